"""Signed checkpoints: the chain's newest link, signed so the database cannot forge it.

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
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ocr_project.common.atomic_files import atomic_write

from .anchors import Anchor
from .chain import canonical_json, canonical_timestamp
from .integrity import verify_chain
from .models import AuditCheckpoint, AuditEvent, ChainHead

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


def latest_checkpoint() -> AuditCheckpoint | None:
    """Return the most recent recorded checkpoint, for a dashboard; None if none yet."""
    return AuditCheckpoint.objects.order_by("-created_at", "-id").first()


def as_checkpoint(record: AuditCheckpoint) -> Checkpoint:
    """Return the signed checkpoint a recorded row stands for."""
    return Checkpoint(
        sequence=record.sequence,
        hash=record.hash,
        created_at=canonical_timestamp(record.created_at),
        signature=record.signature,
    )


def create_checkpoint(*, since_previous: bool = False) -> Checkpoint:
    """Verify the chain up to its newest link, then sign that link, record and publish it.

    Only a chain that verifies is signed, so "checkpoint made" also means "chain
    intact". The previous checkpoint's event must still carry its signed hash, and the
    head may not be behind it: a rewrite or a truncation since then is refused too.
    With ``since_previous`` (the worker's automatic checkpoints) only the events from
    the previous signed checkpoint on are walked: that checkpoint vouches for the rest.
    """
    head = ChainHead.objects.filter(pk=1).values_list("sequence", "hash").first()
    if head is None or head[0] == 0:
        raise CheckpointError("The audit trail is empty: there is nothing to checkpoint.")
    sequence, head_hash = head

    previous_record = latest_checkpoint()
    previous = as_checkpoint(previous_record) if previous_record else None
    if previous is not None and previous.sequence > sequence:
        # Signing now would bless the shorter chain and hide the loss.
        raise CheckpointError(
            f"The chain head #{sequence} is behind the last checkpoint #{previous.sequence}: "
            "events were removed (or the database restored from an older backup)."
        )
    # A recorded checkpoint whose signature fails (AUDIT_SIGNING_KEY rotated, or the
    # row edited) proves nothing; the full walk below still has to pass.
    trusted = previous if previous is not None and previous.is_signed_correctly() else None
    start = trusted.sequence if since_previous and trusted is not None else None
    result = verify_chain(from_sequence=start, to_sequence=sequence, checkpoint=trusted)
    if not result.ok:
        raise CheckpointError(
            f"Refusing to sign a broken chain: #{result.first_bad_sequence}: {result.reason}"
        )
    newest = AuditEvent.objects.filter(sequence=sequence).values_list("hash", flat=True).first()
    if newest != head_hash:
        raise CheckpointError(f"#{sequence} does not match the chain head; run verify_audit_chain.")

    created_at = timezone.now()
    stamp = canonical_timestamp(created_at)
    checkpoint = Checkpoint(
        sequence=sequence,
        hash=head_hash,
        created_at=stamp,
        signature=sign(sequence=sequence, hash=head_hash, created_at=stamp),
    )
    with transaction.atomic():
        AuditCheckpoint.objects.create(
            sequence=sequence,
            hash=head_hash,
            created_at=created_at,
            signature=checkpoint.signature,
        )
        # A copy leaves the machine: the sealer streams it after the event it signs
        # (audit/siem/streamer.py), where whoever can write to the database cannot reach it.
    if settings.AUDIT_CHECKPOINT_DIR:
        directory = Path(settings.AUDIT_CHECKPOINT_DIR)
        directory.mkdir(parents=True, exist_ok=True)
        write_checkpoint(checkpoint, directory / checkpoint_file_name(checkpoint))
    return checkpoint


def checkpoint_file_name(checkpoint: Checkpoint) -> str:
    """Return the file name of a checkpoint in AUDIT_CHECKPOINT_DIR (sorts by sequence)."""
    stamp = re.sub(r"[^0-9]", "", checkpoint.created_at)
    return f"checkpoint-{checkpoint.sequence:012d}-{stamp}.json"


def checkpoint_due(*, now: datetime | None = None) -> bool:
    """Return True when the chain grew AUDIT_CHECKPOINT_EVERY_EVENTS events since the last
    checkpoint, or grew at all and AUDIT_CHECKPOINT_EVERY_MINUTES have passed."""
    head = ChainHead.objects.filter(pk=1).values_list("sequence", flat=True).first() or 0
    last = latest_checkpoint()
    if last is None:
        return head > 0
    grown = head - last.sequence
    if grown >= settings.AUDIT_CHECKPOINT_EVERY_EVENTS:
        return True
    age = (now or timezone.now()) - last.created_at
    return grown > 0 and age >= timedelta(minutes=settings.AUDIT_CHECKPOINT_EVERY_MINUTES)


def checkpoint_if_due() -> Checkpoint | None:
    """Make the automatic checkpoint when one is due; return it, or None if none was due."""
    if not checkpoint_due():
        return None
    return create_checkpoint(since_previous=True)


def stored_anchors() -> list[Anchor]:
    """Return the recorded checkpoints to hold the chain against.

    A row whose signature fails was edited or inserted by someone without
    AUDIT_SIGNING_KEY (or signed before that key was rotated): it is reported, not skipped.
    """
    anchors = []
    for record in AuditCheckpoint.objects.order_by("sequence", "id"):
        checkpoint = as_checkpoint(record)
        if not checkpoint.is_signed_correctly():
            raise StoredCheckpointForged(
                f"the stored checkpoint #{checkpoint.sequence} of {checkpoint.created_at} "
                f"(row {record.pk}) does not match its signature: edited or forged "
                "(or signed with an AUDIT_SIGNING_KEY since rotated)",
                sequence=checkpoint.sequence,
            )
        anchors.append(Anchor(checkpoint, "stored checkpoint", off_machine=False))
    return anchors


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
