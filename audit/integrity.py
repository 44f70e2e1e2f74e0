"""Verify the audit hash chain: recompute every link in sequence order, streaming.

Rows are read as plain tuples (values_list + a chunked cursor), so no model object is
built per row and memory stays constant however long the trail. The walk stops at the
first broken link and names its sequence number; the staff dashboard and the
verify_audit_chain command share it.
"""

import gzip
import hashlib
import json
import logging
import multiprocessing
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max, Min

from .chain import (
    GENESIS_HASH,
    HASHED_FIELDS,
    PLAIN,
    CanonicalMetadata,
    KeyRing,
    canonical_timestamp,
    key_ring,
    link,
)
from .events import KEY_CHANGE_EVENT
from .expressions import stored_timestamp_text, values_as_text
from .models import AuditEvent, ChainHead

if TYPE_CHECKING:
    from .anchors import Anchor
    from .checkpoint import Checkpoint

# The hashed fields, the stored link and its key id: the tuple shape every walk consumes.
ROW_FIELDS = (*HASHED_FIELDS, "hash", "key_id")
_PREV_HASH = HASHED_FIELDS.index("prev_hash")
_TIMESTAMP = HASHED_FIELDS.index("timestamp")
_METADATA = HASHED_FIELDS.index("metadata")
_STAMP_WIDTH = len("2026-01-01T00:00:00.000000Z")
_EVENT_TYPE = HASHED_FIELDS.index("event_type")
_HASH = len(HASHED_FIELDS)
_KEY_ID = _HASH + 1
CHUNK_SIZE = 5000
PRUNE_EVENT = "audit_prune"
# Not __name__: "audit.*" loggers feed the SIEM stream, one JSON event per line.
logger = logging.getLogger("chain_verification")


@dataclass(frozen=True)
class VerificationResult:
    """The verdict on a stretch of the chain; ``first_bad_sequence`` names where it broke."""

    ok: bool
    rows_checked: int
    first_bad_sequence: int | None = None
    reason: str = ""
    first_sequence: int | None = None
    last_sequence: int | None = None
    processes: int = 1


@dataclass(frozen=True)
class Link:
    """The last verified event: what the next one must point at."""

    sequence: int
    hash: str
    timestamp: datetime | None = None
    key_id: str | None = None  # None: not known (an archive's untrusted start)


def span(first: int, last: int) -> str:
    """Return "#first-#last", or "#first" when they are the same event."""
    return f"#{first}" if first == last else f"#{first}-#{last}"


class ChainBroken(Exception):
    """A link that does not hold; carries the first bad sequence number."""

    def __init__(self, sequence: int | None, reason: str) -> None:
        super().__init__(reason)
        self.sequence = sequence
        self.reason = reason


def prune_boundaries() -> dict[int, str]:
    """Return {last pruned sequence: its hash} as recorded by audit_prune events.

    The prune events are themselves links of the chain, so a boundary cannot be
    forged without breaking the chain after it. Only sealed ones: an unsealed row is
    in no link yet, and anyone who can write to the table can insert one.
    """
    boundaries: dict[int, str] = {}
    recorded = AuditEvent.objects.filter(
        event_type=PRUNE_EVENT, sequence__isnull=False
    ).values_list("metadata", flat=True)
    for metadata in recorded:
        try:
            boundaries[int(metadata["last_sequence"])] = str(metadata["last_hash"])
        except (KeyError, TypeError, ValueError):
            continue
    return boundaries


class ChainWalk:
    """Check rows arriving in sequence order against the link before them.

    ``previous`` is the verified predecessor, or None when the first row must be the
    start of the chain: #1 after the genesis hash, or the first row after a prune.
    """

    def __init__(self, *, previous: Link | None = None, ring: KeyRing | None = None) -> None:
        self.previous = previous
        self.ring = ring or key_ring()
        self.rows_checked = 0
        self.first_sequence: int | None = None
        self.first_timestamp: datetime | None = None
        self._boundaries: dict[int, str] | None = None

    def boundaries(self) -> dict[int, str]:
        # Read lazily: most walks start at #1 or after a verified predecessor.
        if self._boundaries is None:
            self._boundaries = prune_boundaries()
        return self._boundaries

    def check_start(self, sequence: int, prev_hash: str) -> None:
        """Raise ChainBroken unless a row with no predecessor may begin the chain."""
        if sequence == 1:
            if prev_hash != GENESIS_HASH:
                raise ChainBroken(1, "#1 does not follow the genesis hash")
            return
        boundaries = self.boundaries()
        pruned_hash = boundaries.get(sequence - 1)
        if pruned_hash is None:
            earlier = [boundary for boundary in boundaries if boundary < sequence - 1]
            missing = max(earlier, default=0) + 1
            raise ChainBroken(
                missing,
                f"{span(missing, sequence - 1)} missing: #{sequence} is the oldest row "
                "and no audit_prune event accounts for the rows before it",
            )
        if prev_hash != pruned_hash:
            raise ChainBroken(
                sequence,
                f"#{sequence} does not follow the last pruned hash recorded by audit_prune",
            )

    def walk(self, rows: Iterable[tuple]) -> Link | None:
        """Check every row; return the last link or raise ChainBroken at the first bad one."""
        previous = self.previous
        expected = previous.sequence + 1 if previous else None
        prev_hash = previous.hash if previous else None
        prev_sequence = previous.sequence if previous else None
        # Timestamps are compared as canonical text, zero-padded to a four-digit year so
        # the text sorts as time does; rows may bring the text or datetimes.
        prev_stamp = None
        if previous is not None and previous.timestamp is not None:
            prev_stamp = canonical_timestamp(previous.timestamp).rjust(_STAMP_WIDTH, "0")
        first_stamp = None
        checked = 0
        keys = self.ring.keys
        prev_key_id = previous.key_id if previous else None
        try:
            for row in rows:
                sequence = row[0]
                key_id = row[_KEY_ID]
                if key_id != prev_key_id:
                    self.check_key_change(row, prev_key_id)
                if expected is None:
                    self.check_start(sequence, row[_PREV_HASH])
                else:
                    if sequence != expected:
                        if sequence < expected:
                            raise ChainBroken(
                                sequence,
                                f"#{sequence} appears again after #{prev_sequence} "
                                "(row inserted or sequence numbers changed)",
                            )
                        missing = span(expected, sequence - 1)
                        raise ChainBroken(expected, f"{missing} missing (row deleted)")
                    if row[_PREV_HASH] != prev_hash:
                        raise ChainBroken(
                            sequence,
                            f"#{sequence} does not link to #{prev_sequence}: its prev_hash "
                            f"differs from the hash of #{prev_sequence} "
                            "(row deleted, inserted, reordered or rehashed)",
                        )
                if link(row, keys.get(key_id)) != row[_HASH]:
                    raise ChainBroken(
                        sequence,
                        f"#{sequence} hash mismatch: its recorded fields were changed"
                        + (" (or its link was made without the chain key)" if key_id else ""),
                    )
                stamp = row[_TIMESTAMP]
                if stamp.__class__ is not str:
                    stamp = canonical_timestamp(stamp)
                stamp = stamp.rjust(_STAMP_WIDTH, "0")
                if prev_stamp is not None and stamp < prev_stamp:
                    raise ChainBroken(
                        sequence,
                        f"#{sequence} is timestamped before #{prev_sequence} (rows reordered)",
                    )
                if self.first_sequence is None:
                    self.first_sequence = sequence
                    first_stamp = stamp
                prev_sequence = sequence
                prev_hash = row[_HASH]
                prev_stamp = stamp
                prev_key_id = key_id
                expected = sequence + 1
                checked += 1
        finally:
            # Also on a break: the last good link says how far the walk got.
            self.rows_checked += checked
            if first_stamp is not None:
                self.first_timestamp = datetime.fromisoformat(first_stamp)
            if checked:
                # All three are set once a row is checked; mypy cannot see it through the loop.
                self.previous = Link(
                    prev_sequence,  # type: ignore[arg-type]
                    prev_hash,  # type: ignore[arg-type]
                    datetime.fromisoformat(prev_stamp),  # type: ignore[arg-type]
                    prev_key_id,
                )
        return self.previous if checked else None

    def check_key_change(self, row: tuple, prev_key_id: str | None) -> None:
        """Raise ChainBroken unless a row may use another key id than the row before it.

        Plain SHA-256 links are the old form: accepted only up to the first keyed link,
        else anyone with database access could append or rewrite rows in that form. A
        keyed chain changes key only at an audit_chain_key event, linked under the new key.
        """
        sequence, key_id = row[0], row[_KEY_ID]
        if key_id == PLAIN:
            if prev_key_id:
                raise ChainBroken(
                    sequence,
                    f"#{sequence} has a plain SHA-256 link after keyed links "
                    "(rewritten without the chain key)",
                )
            return
        if key_id not in self.ring.keys:
            raise ChainBroken(
                sequence,
                f"#{sequence} is linked with key id {key_id!r}, which AUDIT_CHAIN_KEYS does not "
                "hold (key id changed, or an old key was dropped from the ring)",
            )
        if prev_key_id is not None and row[_EVENT_TYPE] != KEY_CHANGE_EVENT:
            raise ChainBroken(
                sequence,
                f"#{sequence} changes the chain key from {prev_key_id or 'plain SHA-256'!r} "
                f"to {key_id!r} without an {KEY_CHANGE_EVENT} event (key id swapped)",
            )


def event_rows(*, first: int | None = None, last: int | None = None, chunk_size: int = CHUNK_SIZE):
    """Yield events as ROW_FIELDS tuples in sequence order, a chunk at a time."""
    # Unsealed events are not links yet; the sealer's backlog is reported beside the verdict.
    queryset = AuditEvent.objects.filter(sequence__isnull=False).order_by("sequence")
    if first is not None:
        queryset = queryset.filter(sequence__gte=first)
    if last is not None:
        queryset = queryset.filter(sequence__lte=last)
    # The timestamp comes as canonical text, rendered by the database, and the metadata
    # as the database's JSON text, made canonical below: no datetimes or dicts are built.
    tuples = values_as_text(queryset, ROW_FIELDS, chunk_size=chunk_size)
    canonical = CanonicalMetadata()
    try:
        for values in tuples:
            row = list(values)
            if row[_TIMESTAMP] is None:
                try:
                    row[_TIMESTAMP] = stored_timestamp_text(AuditEvent, sequence=row[0])
                except ValueError as error:
                    raise ChainBroken(
                        row[0], f"#{row[0]} has an unreadable timestamp: {error}"
                    ) from error
            row[_METADATA] = canonical(row[_METADATA])
            yield row
    finally:
        tuples.close()  # the cursor goes now, also when the walk stops at a broken link


def predecessor(sequence: int) -> Link | None:
    """Return the newest event before a sequence number, if any."""
    row = (
        AuditEvent.objects.filter(sequence__lt=sequence)
        .order_by("-sequence")
        .values_list("sequence", "hash", "timestamp", "key_id")
        .first()
    )
    # A sealed event (sequence__lt matched it) has its sequence and hash.
    return Link(*row) if row else None  # type: ignore[arg-type]


@contextmanager
def consistent_read() -> Iterator[None]:
    """Read in one REPEATABLE READ, READ ONLY transaction on PostgreSQL.

    One snapshot for the head, the rows and the prune records, so a concurrent append
    or prune cannot make the trail look broken; and the chunked cursor then streams,
    where in autocommit Django's WITH HOLD cursor is materialised whole first.
    SQLite stays in autocommit: its transactions here are IMMEDIATE and would hold
    the write lock (and every writer) for the whole walk.
    """
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        yield
        return
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield


@contextmanager
def snapshot_read(snapshot: str | None) -> Iterator[None]:
    """Read in the snapshot another transaction exported (PostgreSQL), else as it comes."""
    if snapshot is None:
        yield
        return
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        cursor.execute("SET TRANSACTION SNAPSHOT %s", [snapshot])
        yield


# Below this many rows, starting interpreters costs more than sharing the work saves.
PARALLEL_MIN_ROWS = 200_000


@dataclass(frozen=True)
class Part:
    """One stretch of the chain for one process: rows first..last, in a shared snapshot."""

    first: int
    last: int
    starts_chain: bool  # no predecessor to look up: the walk starts the chain (or a prune)
    snapshot: str | None
    chunk_size: int


@dataclass(frozen=True)
class PartOutcome:
    rows_checked: int
    first_sequence: int | None
    first_timestamp: datetime | None
    last: Link | None
    broken: tuple[int | None, str] | None


def verify_part(part: Part) -> PartOutcome:
    """Walk one stretch against the stored row before it; runs in a worker process.

    That row's own hash is checked by the stretch before, so the stretches together
    make exactly the checks of one walk from end to end.
    """
    with snapshot_read(part.snapshot):
        walk = ChainWalk(previous=None if part.starts_chain else predecessor(part.first))
        broken = None
        try:
            walk.walk(event_rows(first=part.first, last=part.last, chunk_size=part.chunk_size))
        except ChainBroken as error:
            broken = (error.sequence, error.reason)
    return PartOutcome(
        rows_checked=walk.rows_checked,
        first_sequence=walk.first_sequence,
        first_timestamp=walk.first_timestamp,
        last=walk.previous if walk.rows_checked else None,
        broken=broken,
    )


def can_share_out() -> bool:
    """Return True when worker processes would see the rows this process sees.

    Not inside a caller's transaction (its rows are invisible to other connections)
    and not on an in-memory SQLite database.
    """
    if connection.in_atomic_block or connection.vendor not in ("postgresql", "sqlite"):
        return False
    # is_in_memory_db() exists on SQLite's wrapper only, which the vendor test selects.
    return not (connection.vendor == "sqlite" and connection.is_in_memory_db())  # type: ignore[attr-defined]


def plan_parts(*, first: int, last: int, starts_chain: bool, chunk_size: int) -> list[Part]:
    """Split first..last into one stretch per process; [] when one process should do it."""
    processes = settings.AUDIT_VERIFY_PROCESSES
    if processes < 2 or last - first + 1 < max(PARALLEL_MIN_ROWS, processes):
        return []
    snapshot = None
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_export_snapshot()")
            snapshot = cursor.fetchone()[0]
    size = -(-(last - first + 1) // processes)
    return [
        Part(
            first=start,
            last=min(last, start + size - 1),
            starts_chain=starts_chain and start == first,
            snapshot=snapshot,
            chunk_size=chunk_size,
        )
        for start in range(first, last + 1, size)
    ]


def outcomes_in_processes(parts: list[Part]) -> list[PartOutcome] | None:
    """Verify the parts in worker processes; None if the processes could not run them.

    A machine without working process pools (no /dev/shm in a container, say) or a
    worker killed mid-way (out of memory) is not a verdict on the chain: the caller
    then walks it in this process instead.
    """
    from . import verify_worker

    try:
        with ProcessPoolExecutor(
            max_workers=len(parts),
            # spawn, not fork: a fresh interpreter shares no connection or lock with this one.
            mp_context=multiprocessing.get_context("spawn"),
            initializer=verify_worker.start,
            initargs=(connection.settings_dict["NAME"],),
        ) as pool:
            return list(pool.map(verify_worker.verify_part, parts))
    except (OSError, BrokenProcessPool) as error:
        logger.warning("Verifying in one process: worker processes failed (%s)", error)
        return None


def fold_outcomes(walk: "ChainWalk", outcomes: list[PartOutcome]) -> Link | None:
    """Fold the parts' outcomes, in sequence order, into `walk` as one walk would end."""
    for outcome in outcomes:
        walk.rows_checked += outcome.rows_checked
        if walk.first_sequence is None and outcome.first_sequence is not None:
            walk.first_sequence = outcome.first_sequence
            walk.first_timestamp = outcome.first_timestamp
        if outcome.last is not None:
            walk.previous = outcome.last
        if outcome.broken is not None:
            raise ChainBroken(*outcome.broken)
    return walk.previous if walk.rows_checked else None


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
    removing the newest rows is caught too. ``checkpoint`` (an audit.checkpoint
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


def summary(notes: list[str]) -> str:
    """Return many checkpoint notes as a count, the files named, and the newest stored one."""
    files = [note for note in notes if not note.startswith("stored checkpoint")]
    stored = [note for note in notes if note.startswith("stored checkpoint")]
    shown = "; ".join([*files, *stored[-1:]])
    return f"{len(notes)} checkpoints hold: {shown}"


# --- Archives ----------------------------------------------------------------


def parse_canonical_timestamp(value: str) -> datetime:
    """Return the datetime of a canonical timestamp as archives store it."""
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def archive_rows(path: Path) -> Iterator[tuple]:
    """Yield the events of a retention archive as ROW_FIELDS tuples."""
    number = 0
    try:
        with gzip.open(path, "rt", encoding="utf-8") as lines:
            for line in lines:
                number += 1
                document = json.loads(line)
                document["timestamp"] = parse_canonical_timestamp(document["timestamp"])
                document.setdefault("key_id", PLAIN)  # archives written before keyed links
                yield tuple(document[name] for name in ROW_FIELDS)
    except (ValueError, KeyError, TypeError) as error:
        raise ChainBroken(None, f"archive line {number} is not an event: {error}") from error
    except (OSError, EOFError) as error:
        # A truncated or corrupted gzip stream, or a file that is not gzip at all.
        raise ChainBroken(None, f"archive unreadable after line {number}: {error}") from error


def file_sha256(path: Path) -> str:
    """Return the SHA-256 hex digest of a file, read a block at a time."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_archive(path: Path) -> VerificationResult:
    """Recompute the hashes and links inside a retention archive.

    The archive must be one unbroken stretch of the chain; its SHA-256 is looked up
    among the audit_prune events so the file is also shown to be the one recorded.
    """
    walk = ChainWalk(previous=None)
    rows = iter(archive_rows(path))
    try:
        first = next(rows, None)
        if first is None:
            raise ChainBroken(None, "the archive holds no events")
        # The archive's first row follows a link that is not in the file: trust it.
        walk.previous = Link(first[0] - 1, first[_PREV_HASH], None, first[_KEY_ID])
        walk.walk([first])
        walk.walk(rows)
    except ChainBroken as broken:
        return VerificationResult(
            ok=False,
            rows_checked=walk.rows_checked,
            first_bad_sequence=broken.sequence,
            reason=broken.reason,
            first_sequence=walk.first_sequence,
            last_sequence=walk.previous.sequence if walk.previous else None,
        )
    digest = file_sha256(path)
    recorded = AuditEvent.objects.filter(
        event_type=PRUNE_EVENT, sequence__isnull=False, metadata__archive_sha256=digest
    ).values_list("sequence", flat=True)
    prune_sequence = recorded.first()
    reason = (
        f"archive intact; recorded by audit_prune event #{prune_sequence}"
        if prune_sequence is not None
        else "archive intact; no audit_prune event in this database records its SHA-256"
    )
    return VerificationResult(
        ok=True,
        rows_checked=walk.rows_checked,
        reason=reason,
        first_sequence=walk.first_sequence,
        last_sequence=walk.previous.sequence if walk.previous else None,
    )
