"""An audit event's canonical record: the bytes its chain link and its Merkle leaf hash.

The serialisation is canonical (sorted keys, fixed separators, UTC timestamps with
microseconds) so the same row hashes the same on SQLite and PostgreSQL, today and
when verified years later (docs/transparency.md, "Leaves").

Pure Python, no Django and nothing from the project: ``audit.chain`` (the links) and
``audit.transparency.tree`` (the leaves) use it, and so does the offline verifier of
this package, which an auditor installs without the project.
"""

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
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    if value.year < 1000:
        # strftime does not zero-pad such years; kept so old hashes never change.
        return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    # The same text as the strftime above, for less (verification is hot; the figure is in
    # docs/benchmark-notes.md).
    return value.isoformat(timespec="microseconds")[:-6] + "Z"


# json.dumps builds an encoder per call; one shared (stateless) encoder is cheaper.
_CANONICAL_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
_encode_string = json.encoder.encode_basestring  # what the encoder above uses for str


def canonical_json(value: Any) -> str:
    """Return the canonical JSON text of a value."""
    return _CANONICAL_ENCODER.encode(value)


class CanonicalJSON(str):
    """Text that already is canonical_json(value): row_payload takes it as it is."""


class CanonicalMetadata:
    """Stored metadata JSON text -> CanonicalJSON, remembering recent documents.

    Verification rebuilds every row's canonical record, and decoding and re-encoding the
    metadata was a large part of that (docs/benchmark-notes.md). Trails repeat a few
    documents ({}, the login method, the engine settings) most of the time, so each
    distinct text is converted once.
    The conversion is a pure function of the text, so a remembered answer is the answer.
    """

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self.known: dict[str, CanonicalJSON] = {}

    def __call__(self, text: str) -> CanonicalJSON:
        canonical = self.known.get(text)
        if canonical is None:
            canonical = CanonicalJSON(canonical_json(json.loads(text)))
            if len(self.known) >= self.size:
                self.known.clear()  # cheaper than LRU bookkeeping on every row
            self.known[text] = canonical
        return canonical


# canonical_json of the payload dict, its keys already in sorted order. Spelled out
# because verification hashes every row of the trail: building the dict and sorting it
# per row cost far more (docs/benchmark-notes.md); a test checks it against
# canonical_json byte for byte.
_SLOTS = {"sequence": "%d", "timestamp": '"%s"'}
_PAYLOAD = (
    "{" + ",".join(f'"{name}":{_SLOTS.get(name, "%s")}' for name in sorted(HASHED_FIELDS)) + "}"
)
_HASHED_COUNT = len(HASHED_FIELDS)


def row_payload(values: tuple) -> bytes:
    """Return the canonical serialisation of an event given as HASHED_FIELDS values, in order.

    Equal to canonical_json({field: value, ...}) with the timestamp as
    canonical_timestamp and a missing IP address as "". The timestamp may come as that
    text already, and the metadata as CanonicalJSON.
    """
    (
        sequence,
        timestamp,
        event_type,
        category,
        outcome,
        username,
        ip_address,
        user_agent,
        request_id,
        resource_type,
        resource_id,
        message,
        metadata,
        prev_hash,
    ) = values[:_HASHED_COUNT]  # a new hashed field fails here, loudly
    text = _PAYLOAD % (  # in sorted key order, as canonical_json writes them
        _encode_string(category),
        _encode_string(event_type),
        _encode_string(ip_address or ""),
        _encode_string(message),
        metadata if metadata.__class__ is CanonicalJSON else canonical_json(metadata),
        _encode_string(outcome),
        _encode_string(prev_hash),
        _encode_string(request_id),
        _encode_string(resource_id),
        _encode_string(resource_type),
        sequence,
        timestamp if timestamp.__class__ is str else canonical_timestamp(timestamp),
        _encode_string(user_agent),
        _encode_string(username),
    )
    return text.encode("utf-8")
