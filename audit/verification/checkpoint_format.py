"""The signed checkpoint: its form, its HMAC signature, and its file.

Kept outside the database (a file handed to the operator, a ticket, a WORM bucket), a
checkpoint proves later that nothing up to it was removed or rewritten, even by
someone who recomputed every hash and moved the chain head. The HMAC key is
AUDIT_SIGNING_KEY, separate from SECRET_KEY so rotating one leaves the other's
signatures valid.
"""

import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings

from ocr_project.common.atomic_files import atomic_write

from ..chain import canonical_json

CHECKPOINT_VERSION = 1
# Bound into every signature so an HMAC made with the same key for another purpose
# can never pass as a checkpoint.
SIGNING_CONTEXT = b"ocr-service audit checkpoint\n"
HEX_64 = re.compile(r"[0-9a-f]{64}")


class CheckpointError(Exception):
    """A checkpoint that cannot be made, read or trusted."""


class StoredCheckpointForged(CheckpointError):
    """A stored checkpoint row whose signature fails; names its sequence."""

    def __init__(self, message: str, *, sequence: int) -> None:
        super().__init__(message)
        self.sequence = sequence


@dataclass(frozen=True)
class Checkpoint:
    """A signed (sequence, hash) pair: the chain's newest link when it was made."""

    sequence: int
    hash: str
    created_at: str
    signature: str

    def document(self) -> dict[str, Any]:
        """Return the JSON document written to the checkpoint file."""
        return {
            "version": CHECKPOINT_VERSION,
            "sequence": self.sequence,
            "hash": self.hash,
            "created_at": self.created_at,
            "signature": self.signature,
        }

    def is_signed_correctly(self) -> bool:
        """Return True when the signature matches AUDIT_SIGNING_KEY."""
        expected = sign(sequence=self.sequence, hash=self.hash, created_at=self.created_at)
        return hmac.compare_digest(expected, self.signature)


def sign(*, sequence: int, hash: str, created_at: str) -> str:
    """Return the HMAC-SHA256 of a checkpoint's signed fields."""
    message = SIGNING_CONTEXT + canonical_json(
        {
            "version": CHECKPOINT_VERSION,
            "sequence": sequence,
            "hash": hash,
            "created_at": created_at,
        }
    ).encode("utf-8")
    key = settings.AUDIT_SIGNING_KEY.encode("utf-8")
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def checkpoint_file_name(checkpoint: Checkpoint) -> str:
    """Return the file name of a checkpoint in AUDIT_CHECKPOINT_DIR (sorts by sequence)."""
    stamp = re.sub(r"[^0-9]", "", checkpoint.created_at)
    return f"checkpoint-{checkpoint.sequence:012d}-{stamp}.json"


def newest_checkpoint_file(directory: Path) -> Path | None:
    """Return the checkpoint file with the highest sequence in a directory, if any."""
    files = sorted(Path(directory).glob("checkpoint-*.json"))
    return files[-1] if files else None


def parse_checkpoint(text: str) -> Checkpoint:
    """Return the checkpoint in a JSON document; raise CheckpointError unless signed by us."""
    try:
        document = json.loads(text)
    except ValueError as error:
        raise CheckpointError(f"The checkpoint is not JSON: {error}") from error
    if not isinstance(document, dict) or document.get("version") != CHECKPOINT_VERSION:
        raise CheckpointError(f"The checkpoint is not a version {CHECKPOINT_VERSION} checkpoint.")
    sequence = document.get("sequence")
    chain_hash = document.get("hash")
    created_at = document.get("created_at")
    signature = document.get("signature")
    # bool is an int in Python; "sequence": true is not a sequence number.
    if type(sequence) is not int or sequence < 1:
        raise CheckpointError("The checkpoint's sequence is not a positive integer.")
    if not isinstance(chain_hash, str) or not HEX_64.fullmatch(chain_hash):
        raise CheckpointError("The checkpoint's hash is not 64 hex digits.")
    if not isinstance(signature, str) or not HEX_64.fullmatch(signature):
        raise CheckpointError("The checkpoint's signature is not 64 hex digits.")
    if not isinstance(created_at, str):
        raise CheckpointError("The checkpoint's created_at is not a timestamp.")
    checkpoint = Checkpoint(
        sequence=sequence, hash=chain_hash, created_at=created_at, signature=signature
    )
    if not checkpoint.is_signed_correctly():
        raise CheckpointError(
            "The checkpoint's signature does not match: it was forged, modified, "
            "or signed with another AUDIT_SIGNING_KEY."
        )
    return checkpoint


def read_checkpoint(path: Path) -> Checkpoint:
    """Return the signed checkpoint stored in a file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise CheckpointError(f"Cannot read checkpoint {path}: {error}") from error
    return parse_checkpoint(text)


def checkpoint_json(checkpoint: Checkpoint) -> str:
    """Return the checkpoint file's text."""
    return json.dumps(checkpoint.document(), indent=2, sort_keys=True) + "\n"


def write_checkpoint(checkpoint: Checkpoint, path: Path) -> None:
    """Write the checkpoint file atomically and durably (temp file, fsync, rename)."""
    with atomic_write(path) as handle:
        handle.write(checkpoint_json(checkpoint))
