"""Output shape of audit events in the API."""

from datetime import datetime

from rest_framework import serializers

from .chain import canonical_timestamp
from .events import EVENT_CATEGORIES, Category, Outcome


class CanonicalDateTimeField(serializers.DateTimeField):
    """A moment as programs get it everywhere: UTC ISO 8601 with microseconds and "Z".

    The chain's own text (audit.chain.canonical_timestamp), so the API, NDJSON exports
    and the SIEM stream agree byte for byte, whatever TIME_ZONE pages are shown in.
    """

    def to_representation(self, value: datetime) -> str:
        return canonical_timestamp(value)


class AuditEventOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    sequence = serializers.IntegerField()
    timestamp = CanonicalDateTimeField()
    # Enums in the schema, from the closed vocabulary (audit.events).
    event_type = serializers.ChoiceField(choices=list(EVENT_CATEGORIES))
    category = serializers.ChoiceField(choices=Category.choices)
    outcome = serializers.ChoiceField(choices=Outcome.choices)
    user_id = serializers.IntegerField(allow_null=True)
    username = serializers.CharField()
    ip_address = serializers.IPAddressField(allow_null=True)
    user_agent = serializers.CharField()
    request_id = serializers.CharField()
    resource_type = serializers.CharField()
    resource_id = serializers.CharField()
    message = serializers.CharField()
    metadata = serializers.JSONField()
