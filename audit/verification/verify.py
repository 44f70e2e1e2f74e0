"""Verify the audit hash chain: recompute every link in sequence order, streaming.

The walk stops at the first broken link and names its sequence number; the staff
dashboard and the verify_audit_chain command share it. Anchors (checkpoints, archives)
must still be there and match.
"""

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from django.db.models import Max, Min

from ..chain import (
    PLAIN,
)
from ..models import AuditEvent, ChainHead
from .copies import CONSTRAINT, repeated_writer_macs
from .parallel import can_share_out, fold_outcomes, plan_parts
from .pool import outcomes_in_processes
from .rows import (
    CHUNK_SIZE,
    ChainBroken,
    ChainWalk,
    Link,
    VerificationResult,
    consistent_read,
    event_rows,
    predecessor,
    span,
)

if TYPE_CHECKING:
    from .anchors import Anchor
    from .checkpoint_format import Checkpoint


def verify_chain(
    *,
    from_sequence: int | None = None,
    to_sequence: int | None = None,
    checkpoint: "Checkpoint | None" = None,
    anchors: "Sequence[Anchor]" = (),
    archives: Sequence[Path] = (),
    chunk_size: int = CHUNK_SIZE,
) -> VerificationResult:
    """Recompute the chain (or the stretch from..to) and return the verdict.

    When the stretch reaches the newest event it is compared with the chain head, so
    removing the newest rows is caught too. ``checkpoint`` (an audit.verification.checkpoint_format
    Checkpoint whose signature was checked) and every one of ``anchors`` must still be
    in the chain, unchanged, or in the archive (among ``archives``) a prune moved it to.
    """
    from .anchors import Anchor

    if checkpoint is not None:
        anchors = [*anchors, Anchor(checkpoint, "signed checkpoint", off_machine=False)]
    share_out = can_share_out()
    with consistent_read():
        return _verify_chain(
            from_sequence=from_sequence,
            to_sequence=to_sequence,
            anchors=anchors,
            archives=archives,
            chunk_size=chunk_size,
            share_out=share_out,
        )


def _verify_chain(
    *,
    from_sequence: int | None,
    to_sequence: int | None,
    anchors: "Sequence[Anchor]",
    archives: Sequence[Path],
    chunk_size: int,
    share_out: bool = False,
) -> VerificationResult:
    from .anchors import check_anchors

    # The head is read first and bounds the walk: events committed while we read
    # are not mistaken for rows past the head.
    head = ChainHead.objects.filter(pk=1).values_list("sequence", "hash").first()
    last = to_sequence
    if head is not None and (last is None or last >= head[0]):
        last = head[0]
    reaches_head = head is not None and last == head[0]

    starts_chain = not (from_sequence and from_sequence > 1)
    previous = None if starts_chain or from_sequence is None else predecessor(from_sequence)
    walk = ChainWalk(previous=previous)
    parts = []
    if share_out and last:
        first = from_sequence or AuditEvent.objects.aggregate(first=Min("sequence"))["first"]
        if first is not None:
            parts = plan_parts(
                first=first, last=last, starts_chain=starts_chain, chunk_size=chunk_size
            )
    outcomes = outcomes_in_processes(parts) if parts else None
    processes = len(outcomes) if outcomes is not None else 1
    try:
        if outcomes is not None:
            final = fold_outcomes(walk, outcomes)
        else:
            final = walk.walk(event_rows(first=from_sequence, last=last, chunk_size=chunk_size))
        end_checks(
            walk=walk,
            final=final,
            head=head,
            last=last,
            reaches_head=reaches_head,
            from_sequence=from_sequence,
        )
        if reaches_head and starts_chain:
            check_copies()
        notes = check_anchors(anchors, head_sequence=head[0] if head else 0, archives=archives)
        checkpoint_note = "; ".join(notes) if len(notes) < 4 else summary(notes)
    except ChainBroken as broken:
        return VerificationResult(
            ok=False,
            rows_checked=walk.rows_checked,
            first_bad_sequence=broken.sequence,
            reason=broken.reason,
            first_sequence=walk.first_sequence,
            last_sequence=walk.previous.sequence if walk.previous else None,
            processes=processes,
        )
    final = walk.previous
    reason = "chain intact" if walk.rows_checked else "no events in range"
    return VerificationResult(
        ok=True,
        rows_checked=walk.rows_checked,
        reason=f"{reason}; {checkpoint_note}" if checkpoint_note else reason,
        first_sequence=walk.first_sequence,
        last_sequence=final.sequence if final and walk.rows_checked else None,
        processes=processes,
    )


def end_checks(
    *,
    walk: ChainWalk,
    final: Link | None,
    head: tuple[int, str] | None,
    last: int | None,
    reaches_head: bool,
    from_sequence: int | None,
) -> None:
    """Raise ChainBroken when rows are missing at the end or the head disagrees."""
    if head is None:
        if walk.rows_checked:
            raise ChainBroken(None, "the chain head row is missing")
        return
    newest = final.sequence if final else None
    if last is not None and last > 0 and (newest is None or newest < last):
        if newest is None:
            if from_sequence is None or from_sequence <= 1:
                earlier = [b for b in walk.boundaries() if b < last]
                missing = max(earlier, default=0) + 1
            else:
                missing = from_sequence
        else:
            missing = newest + 1
        if missing <= last:
            what = "the chain head is at" if reaches_head else "the range ends at"
            raise ChainBroken(
                missing,
                f"{span(missing, last)} missing: {what} #{last} "
                + ("(newest rows removed)" if reaches_head else "(rows deleted)"),
            )
    if not reaches_head:
        return
    if final is not None and final.sequence == head[0] and final.hash != head[1]:
        raise ChainBroken(head[0], f"#{head[0]} does not match the hash held by the chain head")
    if final is not None and final.sequence == head[0] and final.key_id == PLAIN:
        # An upgraded trail links an audit_chain_key event right after migrating, so a
        # chain that ends in a plain link was written (or rewritten) without the key.
        raise ChainBroken(
            final.sequence,
            f"#{final.sequence}, the newest event, has a plain SHA-256 link: the chain "
            "was rewritten without the chain key (or never switched to keyed links)",
        )
    # Read the newest sequence before the head: a row committed in between moves the
    # head as well, so only rows no writer accounted for show up as past the head.
    newest_row = AuditEvent.objects.aggregate(newest=Max("sequence"))["newest"]
    head_now = ChainHead.objects.filter(pk=1).values_list("sequence", flat=True).first() or 0
    if newest_row is not None and newest_row > head_now:
        extra = AuditEvent.objects.filter(sequence__gt=head_now).aggregate(first=Min("sequence"))
        raise ChainBroken(
            extra["first"],
            f"#{extra['first']} is past the chain head #{head_now} (row inserted)",
        )


def check_copies() -> None:
    """Raise ChainBroken at the first sealed event that repeats a sealed event's writer MAC."""
    copies = []
    for group in repeated_writer_macs():
        sealed = [sequence for _, sequence in group if sequence is not None]
        copies += [(copy, sealed[0]) for copy in sealed[1:]]
    if copies:
        copy, original = min(copies)
        raise ChainBroken(
            copy,
            f"#{copy} repeats the writer MAC of #{original}: a copy of that event inserted "
            f"later (the unique constraint {CONSTRAINT} is gone)",
        )


def summary(notes: list[str]) -> str:
    """Return many checkpoint notes as a count, the files named, and the newest stored one."""
    files = [note for note in notes if not note.startswith("stored checkpoint")]
    stored = [note for note in notes if note.startswith("stored checkpoint")]
    shown = "; ".join([*files, *stored[-1:]])
    return f"{len(notes)} checkpoints hold: {shown}"
