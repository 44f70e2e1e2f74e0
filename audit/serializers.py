"""Output shape of audit events in the API."""

from rest_framework import serializers


class AuditEventOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    sequence = serializers.IntegerField()
    timestamp = serializers.DateTimeField()
    event_type = serializers.CharField()
    category = serializers.CharField()
    outcome = serializers.CharField()
    user_id = serializers.IntegerField(allow_null=True)
    username = serializers.CharField()
    ip_address = serializers.IPAddressField(allow_null=True)
    user_agent = serializers.CharField()
    request_id = serializers.CharField()
    resource_type = serializers.CharField()
    resource_id = serializers.CharField()
    message = serializers.CharField()
    metadata = serializers.JSONField()
