"""C2SP signed notes with Ed25519 keys, and tlog checkpoints (signed tree heads).

Witnesses' cosignatures of those checkpoints, one more signature line each, are
``tlog_cosignature``'s.

Formats: https://c2sp.org/signed-note and https://c2sp.org/tlog-checkpoint, the ones the
Go checksum database (golang.org/x/mod/sumdb/note) and Sigstore's and others' logs use,
so any of their tools can check our checkpoints with our public key alone.

- A signer key is ``PRIVATE+KEY+<name>+<key id>+<base64(0x01 || Ed25519 seed)>``, secret.
- A verifier key is ``<name>+<key id>+<base64(0x01 || Ed25519 public key)>``, public.
- The key id is the first 4 bytes, big-endian, of SHA-256(name || 0x0A || 0x01 || public key).
- A signed note is its text (ending in a newline), a blank line, then one line per
  signature: ``— <name> <base64(key id || Ed25519 signature of the text)>``.
- A checkpoint's text is the log's origin, the tree size in decimal, the base64 root
  hash, then optional extension lines.
"""

import base64
import binascii
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ED25519 = 0x01  # the signature type byte of Ed25519 in C2SP signed notes
COSIGNATURE_V1 = 0x04  # the type byte of an Ed25519 cosignature/v1 key (c2sp.org/tlog-cosignature)
SIGNATURE_PREFIX = "— "  # em dash (U+2014), space
# C2SP: verifiers must accept at least 16; golang.org/x/mod/sumdb/note stops at 100.
MAX_SIGNATURES = 100
MAX_TREE_SIZE = 2**64 - 1  # a tree size is an unsigned 64-bit integer
_PRIVATE_PREFIX = "PRIVATE+KEY+"


class NoteError(ValueError):
    """A key, note or checkpoint that is malformed, or a note that does not verify."""


class InvalidNoteSignature(NoteError):
    """A signature by a known key that does not verify: the whole note is rejected."""


class UnverifiedNote(NoteError):
    """A well-formed note with no signature by any known key."""


def is_valid_name(name: str) -> bool:
    """Return True for a key name: non-empty, no Unicode space, no plus sign."""
    return bool(name) and "+" not in name and not any(char.isspace() for char in name)


def key_id(name: str, public_key: bytes, *, signature_type: int = ED25519) -> int:
    """Return the 32-bit key id: SHA-256(name || 0x0A || type || public key)[:4], big-endian."""
    digest = hashlib.sha256(name.encode() + b"\n" + bytes([signature_type]) + public_key)
    return int.from_bytes(digest.digest()[:4], "big")


def _decode_base64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise NoteError("not base64") from None


def _split_key(key: str) -> list[str]:
    """Return a key's name, key id and base64 material (which may itself hold a "+")."""
    fields = key.split("+", 2)
    if len(fields) != 3:
        raise NoteError("malformed key")
    return fields


def _parse_key_fields(
    name: str, id_hex: str, material: str, *, signature_type: int = ED25519
) -> tuple[int, bytes]:
    """Return the key id and key bytes (after the type byte) of a key string."""
    if not is_valid_name(name):
        raise NoteError("malformed key: invalid name")
    if len(id_hex) != 8 or any(char not in "0123456789abcdefABCDEF" for char in id_hex):
        raise NoteError("malformed key: the key id is not 8 hex digits")
    raw = _decode_base64(material)
    if not raw or raw[0] != signature_type:
        raise NoteError(f"unknown key algorithm (expected type 0x{signature_type:02x})")
    if len(raw) != 33:
        raise NoteError("malformed key: an Ed25519 key is 32 bytes")
    return int(id_hex, 16), raw[1:]


def _parse_verifier_key(vkey: str, *, signature_type: int = ED25519) -> tuple[str, int, bytes]:
    """Return the name, key id and public key of a verifier key; raise NoteError if not one."""
    name, id_hex, material = _split_key(vkey)
    claimed_id, public_key = _parse_key_fields(
        name, id_hex, material, signature_type=signature_type
    )
    if claimed_id != key_id(name, public_key, signature_type=signature_type):
        raise NoteError("malformed key: the key id does not match the key")
    return name, claimed_id, public_key


def _parse_signer_key(skey: str, *, signature_type: int = ED25519) -> tuple[str, int, bytes]:
    """Return the name, key id and Ed25519 seed of a signer key; raise NoteError if not one."""
    if not skey.startswith(_PRIVATE_PREFIX):
        raise NoteError("malformed signer key: no PRIVATE+KEY+ prefix")
    name, id_hex, material = _split_key(skey.removeprefix(_PRIVATE_PREFIX))
    claimed_id, seed = _parse_key_fields(name, id_hex, material, signature_type=signature_type)
    if claimed_id != key_id(name, _public_key_of(seed), signature_type=signature_type):
        raise NoteError("malformed signer key: the key id does not match the key")
    return name, claimed_id, seed


def _public_key_of(seed: bytes) -> bytes:
    """Return the Ed25519 public key of a private key's seed."""
    return Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes_raw()


def _key_text(name: str, key_id: int, key: bytes, *, signature_type: int, private: bool) -> str:
    """Return a verifier key string, or with ``private`` a signer key string (a secret)."""
    material = base64.b64encode(bytes([signature_type]) + key).decode()
    return f"{_PRIVATE_PREFIX if private else ''}{name}+{key_id:08x}+{material}"


@dataclass(frozen=True)
class Verifier:
    """A public key that checks signatures: name, key id and Ed25519 public key."""

    name: str
    key_id: int
    public_key: bytes

    @classmethod
    def from_key(cls, vkey: str) -> "Verifier":
        """Return the verifier of a verifier key string; raise NoteError if malformed."""
        name, claimed_id, public_key = _parse_verifier_key(vkey)
        return cls(name=name, key_id=claimed_id, public_key=public_key)

    def key(self) -> str:
        """Return the verifier key string."""
        return _key_text(
            self.name, self.key_id, self.public_key, signature_type=ED25519, private=False
        )

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Return True when signature is this key's Ed25519 signature of message."""
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True, repr=False)
class Signer:
    """A private key that signs notes; repr shows its name only."""

    name: str
    key_id: int
    seed: bytes

    @classmethod
    def from_key(cls, skey: str) -> "Signer":
        """Return the signer of a signer key string; raise NoteError if malformed."""
        name, claimed_id, seed = _parse_signer_key(skey)
        return cls(name=name, key_id=claimed_id, seed=seed)

    def __repr__(self) -> str:
        return f"Signer(name={self.name!r}, key_id={self.key_id:08x})"

    def key(self) -> str:
        """Return the signer key string (a secret)."""
        return _key_text(self.name, self.key_id, self.seed, signature_type=ED25519, private=True)

    def verifier(self) -> Verifier:
        """Return the verifier (public key) of this signer."""
        public = _public_key_of(self.seed)
        return Verifier(name=self.name, key_id=key_id(self.name, public), public_key=public)

    def sign(self, message: bytes) -> bytes:
        """Return the Ed25519 signature of message."""
        return Ed25519PrivateKey.from_private_bytes(self.seed).sign(message)


def generate_key(name: str) -> tuple[str, str]:
    """Return a new (signer key, verifier key) pair for a key name."""
    if not is_valid_name(name):
        raise NoteError("invalid key name: it must be non-empty, without spaces or +")
    seed = Ed25519PrivateKey.generate().private_bytes_raw()
    public = _public_key_of(seed)
    signer = Signer(name=name, key_id=key_id(name, public), seed=seed)
    return signer.key(), signer.verifier().key()


@dataclass(frozen=True)
class Signature:
    """One signature line of a note: key name, key id, and the base64 as written."""

    name: str
    key_id: int
    base64: str

    def line(self) -> str:
        """Return the signature line, newline included."""
        return f"{SIGNATURE_PREFIX}{self.name} {self.base64}\n"


@dataclass(frozen=True)
class Note:
    """An opened note: its text, the signatures verified and those by unknown keys."""

    text: str
    signatures: tuple[Signature, ...]
    unverified: tuple[Signature, ...]


def _check_characters(text: str) -> None:
    if any(char < " " and char != "\n" for char in text):
        raise NoteError("malformed note: a control character other than newline")


def sign_note(text: str, *, signers: Sequence[Signer], signatures: Sequence[Signature] = ()) -> str:
    """Return the signed note: text, a blank line, then one signature line per signer.

    `signatures` (an opened note's) are kept before the new ones, except those of a key
    that signs again here, so a note can gather cosignatures.
    """
    if not text.endswith("\n"):
        raise NoteError("malformed note: the text must end with a newline")
    _check_characters(text)
    message = text.encode()
    new = []
    for signer in signers:
        if not is_valid_name(signer.name):
            raise NoteError("invalid signer name")
        raw = signer.key_id.to_bytes(4, "big") + signer.sign(message)
        new.append(Signature(signer.name, signer.key_id, base64.b64encode(raw).decode()))
    signing = {(signer.name, signer.key_id) for signer in signers}
    kept = [old for old in signatures if (old.name, old.key_id) not in signing]
    for old in kept:
        if not is_valid_name(old.name) or _decode_base64(old.base64)[:4] != old.key_id.to_bytes(
            4, "big"
        ):
            raise NoteError("malformed note: a kept signature does not match its key id")
    if not new and not kept:
        raise NoteError("a note needs at least one signature")
    return text + "\n" + "".join(signature.line() for signature in [*kept, *new])


def _parse_signature_line(line: str) -> tuple[Signature, bytes]:
    if not line.startswith(SIGNATURE_PREFIX):
        raise NoteError("malformed note: a signature line must start with an em dash")
    name, space, encoded = line.removeprefix(SIGNATURE_PREFIX).partition(" ")
    if not space or not is_valid_name(name) or not encoded:
        raise NoteError("malformed note: a signature line needs a key name and a signature")
    raw = _decode_base64(encoded)
    if len(raw) < 5:
        raise NoteError("malformed note: a signature is a key id and at least one byte")
    return Signature(name, int.from_bytes(raw[:4], "big"), encoded), raw[4:]


def _split_note(message: str) -> tuple[str, list[str]]:
    """Return a note's text and its signature lines (without their newlines)."""
    _check_characters(message)
    split = message.rfind("\n\n")
    if split < 0:
        raise NoteError("malformed note: no blank line before the signatures")
    text, block = message[: split + 1], message[split + 2 :]
    if not block.endswith("\n"):
        raise NoteError("malformed note: the signatures must end with a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"malformed note: more than {MAX_SIGNATURES} signatures")
    return text, lines


def open_note(message: str | bytes, *, verifiers: Iterable[Verifier]) -> Note:
    """Return the note once at least one signature by a known key verifies.

    Signatures by unknown keys are kept aside, as C2SP requires; one by a known key that
    fails rejects the whole note (InvalidNoteSignature). Raise UnverifiedNote when no
    known key signed, NoteError when the note is malformed.
    """
    if isinstance(message, bytes):
        try:
            message = message.decode("utf-8")
        except UnicodeDecodeError:
            raise NoteError("malformed note: not UTF-8") from None
    known: dict[tuple[str, int], Verifier] = {}
    for verifier in verifiers:
        other = known.setdefault((verifier.name, verifier.key_id), verifier)
        if other != verifier:
            raise NoteError(f"ambiguous key {verifier.name}+{verifier.key_id:08x}")
    text, lines = _split_note(message)
    verified: dict[tuple[str, int], Signature] = {}
    unverified: dict[str, Signature] = {}
    for line in lines:
        signature, raw = _parse_signature_line(line)
        known_key = known.get((signature.name, signature.key_id))
        if known_key is None:
            unverified.setdefault(line, signature)
            continue
        if (signature.name, signature.key_id) in verified:
            continue
        if not known_key.verify(text.encode(), raw):
            raise InvalidNoteSignature(
                f"invalid signature for key {signature.name}+{signature.key_id:08x}"
            )
        verified[(signature.name, signature.key_id)] = signature
    if not verified:
        raise UnverifiedNote("the note has no signature by a known key")
    return Note(
        text=text, signatures=tuple(verified.values()), unverified=tuple(unverified.values())
    )


@dataclass(frozen=True)
class Checkpoint:
    """A transparency log's tree head: origin, tree size, root hash, extension lines."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def text(self) -> str:
        """Return the checkpoint's note text (c2sp.org/tlog-checkpoint)."""
        if not self.origin or self.size < 0 or len(self.root_hash) != 32:
            raise NoteError("a checkpoint needs an origin, a size >= 0 and a 32-byte root")
        lines = [self.origin, str(self.size), base64.b64encode(self.root_hash).decode()]
        for line in [*lines, *self.extensions]:
            if not line or "\n" in line:
                raise NoteError("checkpoint lines must be non-empty single lines")
        _check_characters("".join(self.extensions) + self.origin)
        return "".join(f"{line}\n" for line in [*lines, *self.extensions])


def parse_checkpoint(text: str) -> Checkpoint:
    """Return the checkpoint in a note text; raise NoteError if it is not one."""
    if not text.endswith("\n"):
        raise NoteError("malformed checkpoint: the text must end with a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3 or not all(lines):
        raise NoteError("malformed checkpoint: three or more non-empty lines")
    origin, size_text, root_text, *extensions = lines
    size_is_canonical = size_text.isascii() and size_text.isdigit()
    if not size_is_canonical or (size_text != "0" and size_text.startswith("0")):
        raise NoteError("malformed checkpoint: the size is not a decimal without leading zeros")
    # A tree size is a uint64 (C2SP, and Go's note/tlog parse it so). Checked on the
    # text first: int() of thousands of digits is a ValueError of its own, not a NoteError,
    # and a file of them stopped the verifiers with a traceback.
    if len(size_text) > len(str(MAX_TREE_SIZE)) or int(size_text) > MAX_TREE_SIZE:
        raise NoteError("malformed checkpoint: the size is beyond 2^64 - 1")
    root_hash = _decode_base64(root_text)
    if len(root_hash) != 32:
        raise NoteError("malformed checkpoint: the root hash is not 32 bytes")
    return Checkpoint(origin, int(size_text), root_hash, tuple(extensions))


def open_checkpoint(
    message: str | bytes, *, origin: str, verifiers: Iterable[Verifier]
) -> tuple[Checkpoint, Note]:
    """Return a signed checkpoint of the log `origin` once a known key's signature holds."""
    note = open_note(message, verifiers=verifiers)
    checkpoint = parse_checkpoint(note.text)
    if checkpoint.origin != origin:
        raise NoteError(f"the checkpoint is for {checkpoint.origin!r}, not {origin!r}")
    return checkpoint, note
