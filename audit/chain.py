"""The hash chain: how an event's fields and its predecessor's hash become its link.

The serialisation is canonical (sorted keys, fixed separators, UTC timestamps with
microseconds) so the same row hashes the same on SQLite and PostgreSQL, today and
when verified years later.

A link is an HMAC-SHA256 of that serialisation under a chain key the database does
not hold (AUDIT_CHAIN_KEYS), so someone who can write to the database cannot compute
the links of rows they change or add. Rows written before keyed links existed carry
a plain SHA-256 and an empty key id; verification accepts them only before the first
keyed row. ``link`` is the one place a link is computed: record_event, a batch sealer
and the verifier all call it.
"""

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
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


def _json_safe_number(value: float) -> float | int:
    """Return a float as PostgreSQL's jsonb will give it back (it stores numerics)."""
    if value.is_integer() and abs(value) >= 1e16:
        # json.dumps writes 1e+16; jsonb reads it back as the integer 10000000000000000.
        return int(value)
    if value == 0:
        return 0.0  # -0.0 comes back as 0.0
    return value


def normalise_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    """Return metadata as it will read back from any database's JSON column."""
    return json.loads(
        canonical_json(metadata),
        parse_float=lambda text: _json_safe_number(float(text)),
        # JSON has no NaN or Infinity and jsonb refuses them: keep them as text.
        parse_constant=lambda text: text,
    )


def event_hash(fields: Mapping[str, Any], key: "ChainKey | None" = None) -> str:
    """Return an event's link from a dict of its HASHED_FIELDS (plain SHA-256 without a key)."""
    return link(tuple(fields[name] for name in HASHED_FIELDS), key)


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


# --- Keyed links --------------------------------------------------------------

# The key id of rows linked with plain SHA-256 (no key).
PLAIN = ""
KEY_ID = re.compile(r"[A-Za-z0-9_.-]{1,16}")
MIN_KEY_LENGTH = 32


class ChainKeyError(ValueError):
    """AUDIT_CHAIN_KEYS cannot be read as a key ring."""


class ChainKey:
    """One chain key, with HMAC's padded key states computed once.

    Copying the two prepared SHA-256 states costs less per row than hmac.digest
    (docs/benchmark-notes.md), and verification computes a link for every row.
    """

    __slots__ = ("_inner", "_outer", "key_id", "secret")

    def __init__(self, key_id: str, secret: bytes) -> None:
        self.key_id = key_id
        self.secret = secret.decode("utf-8")  # for the start-up check against SECRET_KEY
        if len(secret) > 64:  # HMAC hashes a key longer than the block size first
            secret = hashlib.sha256(secret).digest()
        padded = secret.ljust(64, b"\0")
        self._inner = hashlib.sha256(bytes(byte ^ 0x36 for byte in padded))
        self._outer = hashlib.sha256(bytes(byte ^ 0x5C for byte in padded))

    def mac(self, payload: bytes) -> str:
        """Return the HMAC-SHA256 hex digest of a payload under this key."""
        inner = self._inner.copy()
        inner.update(payload)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()


def link(values: tuple, key: ChainKey | None) -> str:
    """Return an event's link: HMAC-SHA256 under the key, or plain SHA-256 without one.

    ``values`` are the HASHED_FIELDS in order (prev_hash last). Pure: it reads no
    database row and takes no lock, so a batch sealer can link events it has read.
    """
    payload = row_payload(values)
    if key is None:
        return hashlib.sha256(payload).hexdigest()
    return key.mac(payload)


# Written before a writer MAC's payload: a link's payload starts with "{", so a MAC made
# for one can never pass for the other.
_WRITER_MAC_DOMAIN = b"audit unsealed event\n"


def writer_mac(values: tuple, key: ChainKey) -> str:
    """Return the MAC record_event gives an event before it is sealed (HMAC-SHA256).

    ``values`` are the HASHED_FIELDS in order, with sequence 0, prev_hash "" and, as
    the timestamp, the writer's clock when it recorded the event (the database may
    stamp the row itself). The sealer recomputes it from the row it reads.
    """
    return key.mac(_WRITER_MAC_DOMAIN + row_payload(values))


@dataclass(frozen=True)
class KeyRing:
    """The chain keys by id; the first one (the newest) links new events."""

    signing: ChainKey
    keys: dict[str, ChainKey]

    def get(self, key_id: str) -> ChainKey | None:
        """Return the key with this id, or None if the ring does not hold it."""
        return self.keys.get(key_id)


def parse_key_ring(text: str) -> KeyRing:
    """Return the key ring written as "newest_id:secret,older_id:secret,..."."""
    keys: dict[str, ChainKey] = {}
    for entry in text.split(","):
        key_id, colon, secret = entry.strip().partition(":")
        if not colon or not KEY_ID.fullmatch(key_id):
            raise ChainKeyError(
                "each AUDIT_CHAIN_KEYS entry is id:secret, the id 1-16 of A-Z a-z 0-9 _ . -"
            )
        if len(secret) < MIN_KEY_LENGTH:
            raise ChainKeyError(f"chain key {key_id!r} is shorter than {MIN_KEY_LENGTH} characters")
        if key_id in keys:
            raise ChainKeyError(f"chain key id {key_id!r} appears twice")
        keys[key_id] = ChainKey(key_id, secret.encode("utf-8"))
    return KeyRing(signing=next(iter(keys.values())), keys=keys)


@lru_cache(maxsize=4)
def _ring_from(text: str) -> KeyRing:
    return parse_key_ring(text)


def key_ring() -> KeyRing:
    """Return the key ring configured in AUDIT_CHAIN_KEYS (parsed once per value)."""
    from django.conf import settings

    return _ring_from(settings.AUDIT_CHAIN_KEYS)
