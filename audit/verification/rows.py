"""Read the trail as the verifier walks it: row tuples, links, the walk itself, snapshots.

Rows are read as plain tuples (values_list + a chunked cursor), so no model object is
built per row and memory stays constant however long the trail.
"""

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import connection, transaction

from ..chain import (
    GENESIS_HASH,
    HASHED_FIELDS,
    PLAIN,
    CanonicalMetadata,
    KeyRing,
    canonical_timestamp,
    key_ring,
    link,
)
from ..events import KEY_CHANGE_EVENT
from ..expressions import stored_timestamp_text, values_as_text
from ..models import AuditEvent

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
            try:
                row[_METADATA] = canonical(row[_METADATA])
            except (ValueError, TypeError, RecursionError) as error:
                # Not JSON (SQLite keeps any text once its CHECK is ignored), or nested
                # deeper than the decoder goes: no link was made over it.
                raise ChainBroken(
                    row[0], f"#{row[0]} has metadata that is no readable JSON ({error})"
                ) from None
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


def parse_canonical_timestamp(value: str) -> datetime:
    """Return the datetime of a canonical timestamp as archives store it."""
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
