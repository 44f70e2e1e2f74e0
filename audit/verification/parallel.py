"""Split a long chain into parts that processes verify in one shared snapshot, and fold them."""

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import connection

from .rows import ChainBroken, ChainWalk, Link, event_rows, predecessor, snapshot_read

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
