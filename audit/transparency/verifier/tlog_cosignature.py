"""Witness cosignatures of tlog checkpoints: https://c2sp.org/tlog-cosignature, Ed25519.

A witness's cosignature (cosignature/v1) is one more signature line of the checkpoint's
signed note (``signed_note``), by a key of signature type 0x04, whose signature is an
8-byte big-endian POSIX timestamp followed by the Ed25519 signature of
``cosignature/v1\ntime <timestamp>\n`` and the checkpoint's text.
"""

import base64
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

# The note's own parsing, private to the format both modules write: a cosignature line
# is a signature line of the same note, its keys keys of the same form.
from .signed_note import (
    COSIGNATURE_V1,
    NoteError,
    Signature,
    _check_characters,
    _decode_base64,
    _key_text,
    _parse_signature_line,
    _parse_signer_key,
    _parse_verifier_key,
    _public_key_of,
    _split_note,
    is_valid_name,
    key_id,
)


def cosigned_message(text: str, *, timestamp: int) -> bytes:
    """Return what a cosignature/v1 signs: the header and time lines, then the note text."""
    if not 0 <= timestamp < 2**63:
        raise NoteError("a cosignature timestamp is a POSIX time below 2^63")
    return f"cosignature/v1\ntime {timestamp}\n".encode() + text.encode()


@dataclass(frozen=True)
class Cosignature:
    """A witness's cosignature that verified: the witness key, its time, the line."""

    witness: "CosignerVerifier"
    timestamp: int
    signature: Signature


@dataclass(frozen=True)
class CosignerVerifier:
    """A witness's public key (verifier key of type 0x04): name, key id, Ed25519 key."""

    name: str
    key_id: int
    public_key: bytes

    @classmethod
    def from_key(cls, vkey: str) -> "CosignerVerifier":
        """Return the witness key of a verifier key string; raise NoteError if malformed."""
        name, claimed_id, public_key = _parse_verifier_key(vkey, signature_type=COSIGNATURE_V1)
        return cls(name=name, key_id=claimed_id, public_key=public_key)

    def key(self) -> str:
        """Return the verifier key string."""
        return _key_text(
            self.name, self.key_id, self.public_key, signature_type=COSIGNATURE_V1, private=False
        )

    def verify(self, text: str, signature: Signature) -> Cosignature | None:
        """Return the cosignature when the line is this witness's cosignature of text."""
        if (signature.name, signature.key_id) != (self.name, self.key_id):
            return None
        raw = _decode_base64(signature.base64)[4:]
        if len(raw) != 8 + 64:
            return None
        timestamp = int.from_bytes(raw[:8], "big")
        if timestamp >= 2**63:
            return None
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(
                raw[8:], cosigned_message(text, timestamp=timestamp)
            )
        except InvalidSignature:
            return None
        return Cosignature(witness=self, timestamp=timestamp, signature=signature)


@dataclass(frozen=True, repr=False)
class Cosigner:
    """A witness's private key, which cosigns checkpoints; repr shows its name only."""

    name: str
    key_id: int
    seed: bytes

    @classmethod
    def from_key(cls, skey: str) -> "Cosigner":
        """Return the cosigner of a signer key string of type 0x04; raise NoteError if not."""
        name, claimed_id, seed = _parse_signer_key(skey, signature_type=COSIGNATURE_V1)
        return cls(name=name, key_id=claimed_id, seed=seed)

    def __repr__(self) -> str:
        return f"Cosigner(name={self.name!r}, key_id={self.key_id:08x})"

    def key(self) -> str:
        """Return the signer key string (a secret)."""
        return _key_text(
            self.name, self.key_id, self.seed, signature_type=COSIGNATURE_V1, private=True
        )

    def verifier(self) -> CosignerVerifier:
        """Return the witness's public key."""
        public = _public_key_of(self.seed)
        return CosignerVerifier(
            name=self.name,
            key_id=key_id(self.name, public, signature_type=COSIGNATURE_V1),
            public_key=public,
        )

    def cosign(self, text: str, *, timestamp: int) -> Signature:
        """Return the cosignature line of a checkpoint text, made at a POSIX time."""
        _check_characters(text)
        signature = Ed25519PrivateKey.from_private_bytes(self.seed).sign(
            cosigned_message(text, timestamp=timestamp)
        )
        raw = self.key_id.to_bytes(4, "big") + timestamp.to_bytes(8, "big") + signature
        return Signature(self.name, self.key_id, base64.b64encode(raw).decode())


def generate_cosigner_key(name: str) -> tuple[str, str]:
    """Return a new witness (signer key, verifier key) pair, signature type 0x04."""
    if not is_valid_name(name):
        raise NoteError("invalid key name: it must be non-empty, without spaces or +")
    seed = Ed25519PrivateKey.generate().private_bytes_raw()
    public = _public_key_of(seed)
    cosigner = Cosigner(
        name=name, key_id=key_id(name, public, signature_type=COSIGNATURE_V1), seed=seed
    )
    return cosigner.key(), cosigner.verifier().key()


def note_cosignatures(message: str, *, witnesses: Iterable[CosignerVerifier]) -> list[Cosignature]:
    """Return the cosignatures in a note that verify with the given witness keys, one a key.

    Lines by other keys (the log's, unknown witnesses') are passed over; a line that
    names a given witness key but does not verify counts for nothing.
    """
    text, lines = _split_note(message)
    found: dict[tuple[str, int], Cosignature] = {}
    for line in lines:
        signature, _ = _parse_signature_line(line)
        for witness in witnesses:
            if (witness.name, witness.key_id) in found:
                continue
            cosignature = witness.verify(text, signature)
            if cosignature is not None:
                found[(witness.name, witness.key_id)] = cosignature
    return list(found.values())
