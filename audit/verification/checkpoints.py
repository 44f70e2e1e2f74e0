"""Checkpoints of the chain head: made when due, stored in the database, read back as anchors."""

from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ..chain import canonical_timestamp
from ..models import AuditCheckpoint, AuditEvent, ChainHead
from .anchors import Anchor
from .checkpoint_format import (
    Checkpoint,
    CheckpointError,
    StoredCheckpointForged,
    checkpoint_file_name,
    sign,
    write_checkpoint,
)
from .verify import verify_chain


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
