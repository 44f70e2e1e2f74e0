"""The hash chain: how an event's fields and its predecessor's hash become its hash.

The serialisation is canonical (sorted keys, fixed separators, UTC timestamps with
microseconds) so the same row hashes the same on SQLite and PostgreSQL, today and
when verified years later.
"""

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

GENESIS_HASH = "0" * 64

# The fields covered by the hash. The user foreign key is deliberately absent: it
# becomes NULL when a user is deleted; the hashed username snapshot is the record.
HASHED_FIELDS = (
    "sequence",
    "timestamp",
    "event_type",
    "category",
    "outcome",
    "username",
    "ip_address",
    "user_agent",
    "request_id",
    "resource_type",
    "resource_id",
    "message",
    "metadata",
    "prev_hash",
)


def canonical_timestamp(value: datetime) -> str:
    """Return a timestamp as UTC ISO 8601 with microseconds."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_json(value: Any) -> str:
    """Return the canonical JSON text of a value."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def normalise_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    """Return metadata as it will read back from any database's JSON column."""
    return json.loads(canonical_json(metadata))


def event_hash(fields: dict[str, Any]) -> str:
    """Return the SHA-256 hex digest of an event's canonical serialisation."""
    payload = {name: fields[name] for name in HASHED_FIELDS}
    payload["timestamp"] = canonical_timestamp(payload["timestamp"])
    payload["ip_address"] = payload["ip_address"] or ""
    return hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()
