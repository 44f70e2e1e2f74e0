"""The hash chain: how an event's fields and its predecessor's hash become its link.

The serialisation is the event's canonical record (``audit.transparency.verifier.records``,
Django-free so an offline verifier shares it), re-exported here for the chain's callers.

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
from functools import lru_cache
from typing import Any

from .transparency.verifier.records import (
    GENESIS_HASH,
    HASHED_FIELDS,
    CanonicalJSON,
    CanonicalMetadata,
    canonical_json,
    canonical_timestamp,
    row_payload,
)

__all__ = [  # the canonical record's names, re-exported: the chain's callers import them here
    "GENESIS_HASH",
    "HASHED_FIELDS",
    "CanonicalJSON",
    "CanonicalMetadata",
    "canonical_json",
    "canonical_timestamp",
    "row_payload",
]


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


def writer_mac(values: tuple, key: ChainKey, *, nonce: str = "") -> str:
    """Return the MAC record_event gives an event before it is sealed (HMAC-SHA256).

    ``values`` are the HASHED_FIELDS in order, with sequence 0, prev_hash "" and, as
    the timestamp, the writer's clock when it recorded the event (the database may
    stamp the row itself). ``nonce``, random per event, is MACed before them: two
    genuine events never share a writer MAC, so a row that repeats one is a copy
    (refused by a unique index). Written before a line break, and never "{", the start
    of every payload: MACs written without one (before nonces) still verify as they were.
    The sealer recomputes it from the row it reads.
    """
    nonced = nonce.encode("ascii") + b"\n" if nonce else b""
    return key.mac(_WRITER_MAC_DOMAIN + nonced + row_payload(values))


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
