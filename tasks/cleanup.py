"""Delete old tasks with their files, and files no task refers to."""

import time
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from audit.services import record_event

from .models import OcrPage, OcrTask
from .services.deletion import task_delete_many
from .storage import file_size, is_local_symlink, modified_at, walk_files
from .uploads import remove_stored
from .web.thumbnails import thumbnail_name

# Who may run a cleanup from the admin page or the API (the command needs shell access):
# it deletes other users' tasks, so it takes the permission to delete tasks.
CLEANUP_PERMISSION = "tasks.delete_ocrtask"
# Tasks loaded and deleted at a time by a cleanup (their recognised text can be large).
DELETE_BATCH = 500


@dataclass
class CleanupStats:
    older_than_days: int
    dry_run: bool
    tasks_deleted: int = 0
    files_deleted: int = 0
    orphan_files_deleted: int = 0
    temp_files_deleted: int = 0
    bytes_freed: int = 0


@dataclass(frozen=True)
class Orphan:
    """A file no task refers to: in the storage (`name`) or in local staging (`path`)."""

    size: int
    name: str = ""
    path: Path | None = None

    def remove(self) -> None:
        if self.path is not None:
            self.path.unlink(missing_ok=True)
        else:
            remove_stored(self.name)


def remove_files(*, orphans: list[Orphan], spooled: list[Path]) -> None:
    """Delete the orphans and the stale upload spool, once the cleanup has committed."""
    for orphan in orphans:
        orphan.remove()
    # Not storage files: the spool is a local directory of this machine.
    for path in spooled:
        path.unlink(missing_ok=True)


# Every folder of the storage the project writes to: uploads (the originals), derived
# (turned page images, searchable PDFs) and thumbnails. Local staging is swept apart.
STORED_PREFIXES = ("uploads", "derived", "thumbnails")


def referenced_files() -> set[str]:
    """Return the storage name of every file a task or a page row refers to."""
    referenced = set(OcrTask.objects.values_list("file", flat=True))
    referenced.update(
        OcrTask.objects.exclude(searchable_pdf="").values_list("searchable_pdf", flat=True)
    )
    referenced.update(OcrPage.objects.exclude(image="").values_list("image", flat=True))
    # A thumbnail is named for its task rather than recorded on it.
    referenced.update(thumbnail_name(pk) for pk in OcrTask.objects.values_list("pk", flat=True))
    return referenced


def stored_orphans(*, cutoff: datetime) -> list[Orphan]:
    """Return stored files no task refers to, older than cutoff, under every prefix.

    Listed through the Storage API, so a bucket is swept like a local folder. A file
    whose age the storage cannot tell is kept: its upload may still be committing.
    """
    referenced = referenced_files()
    found = []
    for name in (name for prefix in STORED_PREFIXES for name in walk_files(prefix)):
        if name in referenced or is_local_symlink(name):
            continue
        written = modified_at(name)
        if written is None or written > cutoff:
            continue
        size = file_size(name)
        if size is not None:
            found.append(Orphan(size=size, name=name))
    return found


def stale_upload_temp_files(*, grace_seconds: int) -> list[Path]:
    """Return upload spool files (FILE_UPLOAD_TEMP_DIR) untouched for the grace period.

    Django deletes them when a request ends; a worker killed mid-upload (gunicorn's
    timeout) leaves them behind. A live upload keeps writing, so its file stays fresh.
    """
    folder = Path(settings.FILE_UPLOAD_TEMP_DIR)
    if not folder.is_dir():
        return []
    cutoff = time.time() - grace_seconds
    return [
        path
        for path in folder.iterdir()
        if path.is_file() and not path.is_symlink() and path.stat().st_mtime <= cutoff
    ]


def cleanup_cutoff(*, older_than_days: int, as_of: datetime | None = None) -> datetime:
    """Return the creation time before which tasks are old: N days before `as_of`.

    `as_of` is when a confirmation page listed what would go; a later run deletes no task
    that page did not count. It is never later than now.
    """
    now = timezone.now()
    return min(as_of or now, now) - timedelta(days=older_than_days)


def staging_orphans(*, cutoff: datetime) -> list[Orphan]:
    """Return this host's abandoned staging files (a crash mid-check), older than cutoff.

    Symlinks are never followed.
    """
    root = Path(settings.OCR_STAGING_DIR)
    if not root.is_dir():
        return []
    found = []
    for path in root.rglob("*"):
        if path.is_symlink() or not path.is_file():
            continue
        stat = path.stat()
        if stat.st_mtime > cutoff.timestamp():
            continue
        found.append(Orphan(size=stat.st_size, path=path))
    return found


def orphan_files(*, grace_seconds: int) -> list[Orphan]:
    """Return stored and staged files that no task refers to, older than the grace period.

    Younger files are skipped: their upload may still be committing.
    """
    cutoff = timezone.now() - timedelta(seconds=grace_seconds)
    return stored_orphans(cutoff=cutoff) + staging_orphans(cutoff=cutoff)


def cleanup_tasks(
    *,
    older_than_days: int,
    dry_run: bool,
    actor: User | None,
    via: str = "api",
    as_of: datetime | None = None,
) -> CleanupStats:
    """Delete tasks created more than N days ago and orphaned files; return statistics.

    Files go only after the database change commits (post_delete schedules them), so
    a failed cleanup never leaves rows pointing at missing files.
    """
    if older_than_days < 0:
        raise ValueError("older_than_days must be zero or more.")
    stats = CleanupStats(older_than_days=older_than_days, dry_run=dry_run)
    cutoff = cleanup_cutoff(older_than_days=older_than_days, as_of=as_of)
    old = OcrTask.objects.filter(created_at__lt=cutoff)
    orphans = orphan_files(grace_seconds=settings.OCR_ORPHAN_GRACE_SECONDS)
    spooled = stale_upload_temp_files(grace_seconds=settings.OCR_ORPHAN_GRACE_SECONDS)
    with transaction.atomic():
        rows = list(old.values_list("file", "size"))
        stats.tasks_deleted = len(rows)
        sizes = [size for name, _ in rows if (size := file_size(name)) is not None]
        stats.files_deleted = len(sizes)
        stats.bytes_freed = sum(sizes)
        stats.orphan_files_deleted = len(orphans)
        stats.bytes_freed += sum(orphan.size for orphan in orphans)
        stats.temp_files_deleted = len(spooled)
        stats.bytes_freed += sum(path.stat().st_size for path in spooled)
        if not dry_run:
            # A batch at a time, read afresh (the deleted ones are gone from the next
            # read): memory stays bounded, and no cursor is left open if one fails.
            while batch := list(old.select_related("owner").order_by("pk")[:DELETE_BATCH]):
                task_delete_many(tasks=batch, actor=actor, via="cleanup")
            transaction.on_commit(partial(remove_files, orphans=orphans, spooled=spooled))
        record_event(
            event_type="admin_cleanup",
            user=actor,
            resource_type="task",
            message=("Dry run: nothing deleted" if dry_run else "Cleanup done"),
            metadata={"via": via, **asdict(stats)},
        )
    return stats
