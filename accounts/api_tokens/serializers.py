"""The shape of a token as its owner sees it: never its text, which exists only once."""

from rest_framework import serializers

from audit.api.serializers import CanonicalDateTimeField


class ApiTokenOutputSerializer(serializers.Serializer):
    id = serializers.CharField(source="lookup_id", help_text="The public part of the token.")
    name = serializers.CharField()
    scopes = serializers.ListField(child=serializers.CharField())
    created_at = CanonicalDateTimeField()
    expires_at = CanonicalDateTimeField()
    revoked_at = CanonicalDateTimeField(allow_null=True)
    last_used_at = CanonicalDateTimeField(allow_null=True)
    last_used_ip = serializers.IPAddressField(allow_null=True)
