"""Retention: move the oldest audit events to a gzip NDJSON archive, then delete them.

The one sanctioned way rows leave the trail. The archive is written, verified and
fsynced before anything is deleted; the delete and the audit_prune event that
records it commit together, and that event carries the last pruned hash so the
remaining chain still verifies from its new first row.
"""

import gzip
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO

from django.db import connection, transaction
from django.db.models import Count, Max, Min
from django.utils import timezone

from ocr_project.common.atomic_files import atomic_write

from .chain import canonical_timestamp
from .models import AuditEvent
from .roles import RoleError, acting_as
from .sealing.batches import seal_pending
from .services import record_event
from .verification.rows import CHUNK_SIZE, ROW_FIELDS, ChainBroken, ChainWalk, consistent_read

# Every column, so the archive alone is enough to recompute each hash and link.
ARCHIVE_FIELDS = ("id", "user_id", *ROW_FIELDS)


class RetentionError(Exception):
    """Pruning was refused; nothing was deleted."""


@dataclass(frozen=True)
class PruneResult:
    """What a retention run removed (or, for a dry run, would remove)."""

    count: int
    dry_run: bool
    cutoff: datetime
    first_sequence: int | None = None
    last_sequence: int | None = None
    first_timestamp: datetime | None = None
    last_timestamp: datetime | None = None
    last_hash: str = ""
    archive: str = ""
    archive_sha256: str = ""
    prune_event_sequence: int | None = None


class _HashingWriter:
    """A binary sink that hashes every byte on its way to the file."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.digest = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        return self.raw.write(data)

    def flush(self) -> None:
        self.raw.flush()


def archive_document(row: tuple) -> dict:
    """Return one archived event (id, user_id, then the hashed fields and hash)."""
    document = dict(zip(ARCHIVE_FIELDS, row, strict=True))
    document["timestamp"] = canonical_timestamp(document["timestamp"])
    return document


@dataclass(frozen=True)
class Archived:
    """The stretch written to an archive file, verified link by link."""

    count: int
    first_timestamp: datetime
    last_timestamp: datetime
    last_hash: str
    sha256: str


def write_archive(path: Path, *, first: int, last: int, chunk_size: int = CHUNK_SIZE) -> Archived:
    """Stream events first..last into a gzip NDJSON file, verifying the chain as it goes.

    Written to a temporary file beside the target, fsynced, then linked into place,
    so a crash never leaves a half archive under the real name. Memory stays constant.
    """
    rows = (
        AuditEvent.objects.filter(sequence__gte=first, sequence__lte=last)
        .order_by("sequence")
        .values_list(*ARCHIVE_FIELDS)
        .iterator(chunk_size=chunk_size)
    )
    walk = ChainWalk(previous=None)
    try:
        # Not overwriting: the archive is linked into place, which fails if the name was
        # taken meanwhile (say, by a concurrent run), so an archive is never overwritten.
        with consistent_read(), atomic_write(path, binary=True, overwrite=False) as raw:
            sink = _HashingWriter(raw)
            # mtime=0 and no file name in the header: the same rows give the same bytes.
            with gzip.GzipFile(filename="", mode="wb", fileobj=sink, mtime=0) as archive:
                batch: list[tuple] = []
                for row in rows:
                    batch.append(row)
                    if len(batch) >= chunk_size:
                        write_batch(archive, walk, batch)
                        batch.clear()
                write_batch(archive, walk, batch)
            if walk.previous is None:
                raise RetentionError(f"No events #{first}-#{last} to archive.")
    except FileExistsError:
        raise RetentionError(f"{path} already exists; an archive is never overwritten.") from None
    except ChainBroken as broken:
        raise RetentionError(
            f"Refusing to prune: the chain is broken at #{broken.sequence}: {broken.reason}. "
            "Nothing was deleted."
        ) from broken
    # Both are set: the stretch first..last holds at least one event, and it was walked.
    return Archived(
        count=walk.rows_checked,
        first_timestamp=walk.first_timestamp,  # type: ignore[arg-type]
        last_timestamp=walk.previous.timestamp,  # type: ignore[arg-type]
        last_hash=walk.previous.hash,
        sha256=sink.digest.hexdigest(),
    )


def write_batch(archive: gzip.GzipFile, walk: ChainWalk, batch: list[tuple]) -> None:
    """Verify a batch of rows, then append them to the archive."""
    if not batch:
        return
    walk.walk(row[2:] for row in batch)
    lines = "".join(json.dumps(archive_document(row), ensure_ascii=False) + "\n" for row in batch)
    archive.write(lines.encode("utf-8"))


# The one role the PostgreSQL DELETE trigger lets delete events (migration 0017). Only
# its members and superusers may switch to it: give membership to the login that runs
# audit_retention, never to the one the web and the worker use.
PRUNE_ROLE = "audit_pruner"


def delete_stretch(*, first: int, last: int) -> int:
    """Delete events first..last inside the caller's transaction; return how many went."""
    stretch = AuditEvent.objects.filter(sequence__gte=first, sequence__lte=last)
    if connection.vendor != "postgresql":
        return stretch._retention_delete()
    if not connection.in_atomic_block:
        # The DELETE commits with the audit_prune event that records it, or not at all.
        raise RetentionError("Events are deleted only inside the retention transaction.")
    try:
        # For the one DELETE; back to the caller's role for the prune event after it.
        with acting_as(PRUNE_ROLE):
            return stretch._retention_delete()
    except RoleError as error:
        raise RetentionError(
            f"{error} Run audit_retention as a member of it (see the README, Retention). "
            "Nothing was deleted."
        ) from error


def prune_events(
    *,
    older_than_days: int,
    archive: Path | None,
    dry_run: bool = False,
    chunk_size: int = CHUNK_SIZE,
) -> PruneResult:
    """Archive and delete the events older than a number of days.

    What goes is the oldest stretch of the chain, up to the newest event stamped
    before the cutoff (timestamps never decrease along the chain). The stretch is
    verified while it is archived; a broken chain is refused so the evidence stays.
    """
    if older_than_days < 1:
        raise RetentionError("--older-than-days must be at least 1.")
    cutoff = timezone.now() - timedelta(days=older_than_days)
    sealed = AuditEvent.objects.filter(sequence__isnull=False)
    # The chain head's own event stays, however old: the sealer links on from the newest
    # sealed event and refuses a head that names no event (HeadMoved), so pruning it
    # left the prune, and every event after it, unsealed for good (background sealing).
    newest = sealed.aggregate(newest=Max("sequence"))["newest"]
    last = (
        sealed.filter(timestamp__lt=cutoff, sequence__lt=newest).aggregate(last=Max("sequence"))[
            "last"
        ]
        if newest
        else None
    )
    if last is None:
        return PruneResult(count=0, dry_run=dry_run, cutoff=cutoff)
    stretch = AuditEvent.objects.filter(sequence__lte=last).aggregate(
        first=Min("sequence"), count=Count("id")
    )
    first = stretch["first"]
    if dry_run:
        return PruneResult(
            count=stretch["count"],
            dry_run=True,
            cutoff=cutoff,
            first_sequence=first,
            last_sequence=last,
        )

    if archive is None:
        raise RetentionError("An archive path is required (except for a dry run).")
    archive = Path(archive)
    if archive.exists():
        raise RetentionError(f"{archive} already exists; an archive is never overwritten.")
    archived = write_archive(archive, first=first, last=last, chunk_size=chunk_size)
    try:
        with transaction.atomic():
            deleted = delete_stretch(first=first, last=last)
            if deleted != archived.count:
                # Another retention run got there first: keep its archive, not ours.
                raise RetentionError(
                    f"Archived {archived.count} events but {deleted} were deleted; rolled "
                    "back. Is another audit_retention running?"
                )
            event = record_event(
                event_type="audit_prune",
                resource_type="audit_archive",
                resource_id=archived.sha256,
                message=f"Pruned {deleted} audit events #{first}-#{last} into {archive.name}",
                metadata={
                    "count": deleted,
                    "first_sequence": first,
                    "last_sequence": last,
                    "first_timestamp": canonical_timestamp(archived.first_timestamp),
                    "last_timestamp": canonical_timestamp(archived.last_timestamp),
                    "cutoff": canonical_timestamp(cutoff),
                    "older_than_days": older_than_days,
                    "archive": str(archive),
                    "archive_sha256": archived.sha256,
                    # Verification accepts the first remaining row because it follows this.
                    "last_hash": archived.last_hash,
                },
            )
    except BaseException:
        # Nothing was deleted: an archive of rows still in the trail would mislead.
        archive.unlink(missing_ok=True)
        raise
    if event.sequence is None:
        # Background sealing: link the prune now rather than within the sealer's window,
        # so the operator reads its place in the chain (only a sealed prune counts). A
        # sealer busy elsewhere may take it instead; then it stays None here.
        seal_pending()
        event.sequence = (
            AuditEvent.objects.filter(pk=event.pk).values_list("sequence", flat=True).first()
        )
    return PruneResult(
        count=deleted,
        dry_run=False,
        cutoff=cutoff,
        first_sequence=first,
        last_sequence=last,
        first_timestamp=archived.first_timestamp,
        last_timestamp=archived.last_timestamp,
        last_hash=archived.last_hash,
        archive=str(archive),
        archive_sha256=archived.sha256,
        prune_event_sequence=event.sequence,
    )
