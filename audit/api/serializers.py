"""Input and output shapes of the audit API: events, and proofs of the Merkle tree."""

import base64
from datetime import datetime

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ..chain import canonical_timestamp
from ..events import EVENT_CATEGORIES, Category, Outcome


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


@extend_schema_field({"type": "string", "format": "byte"})
class Base64HashField(serializers.Field):
    """A hash as standard base64 (RFC 4648), as tlog checkpoints write roots."""

    def to_representation(self, value: bytes) -> str:
        return base64.b64encode(value).decode("ascii")


class ProofQuerySerializer(serializers.Serializer):
    size = serializers.IntegerField(
        required=False,
        min_value=1,
        help_text="The tree size to prove inclusion in; the newest signed checkpoint's by default.",
    )


class InclusionProofOutputSerializer(serializers.Serializer):
    leaf_index = serializers.IntegerField(help_text="The event's leaf: its sequence - 1.")
    tree_size = serializers.IntegerField()
    leaf_hash = Base64HashField(help_text="SHA-256(0x00 || the event's canonical record), base64.")
    proof = serializers.ListField(
        child=Base64HashField(), help_text="The RFC 9162 audit path, leaf to root, base64 hashes."
    )
    checkpoint = serializers.CharField(
        allow_null=True,
        help_text="The signed tlog checkpoint of this tree size (a C2SP signed note), "
        "or null when none was signed at this size.",
    )


class _FromTo(serializers.Serializer):
    """Fields named `from` and `to`, which a class body cannot spell (`from` is a keyword)."""

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = serializers.IntegerField(min_value=1, **self.from_options())
        fields["to"] = serializers.IntegerField(min_value=1, **self.to_options())
        return fields

    def from_options(self) -> dict:
        return {}

    def to_options(self) -> dict:
        return {}


class ConsistencyQuerySerializer(_FromTo):
    def from_options(self) -> dict:
        return {"help_text": "The older tree size."}

    def to_options(self) -> dict:
        return {
            "required": False,
            "help_text": "The newer tree size; the newest signed checkpoint's by default.",
        }


class ConsistencyProofOutputSerializer(_FromTo):
    proof = serializers.ListField(
        child=Base64HashField(), help_text="The RFC 9162 consistency proof, base64 hashes."
    )
