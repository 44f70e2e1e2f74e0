"""Delete old tasks with their files, and files no task refers to."""

import time
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from audit.services import record_event

from .models import OcrTask
from .services import deleting
from .uploads import remove_stored


@dataclass
class CleanupStats:
    older_than_days: int
    dry_run: bool
    tasks_deleted: int = 0
    files_deleted: int = 0
    orphan_files_deleted: int = 0
    bytes_freed: int = 0


def orphan_files(*, grace_seconds: int) -> list[Path]:
    """Return files under MEDIA_ROOT/uploads and staging that no task refers to.

    Files younger than the grace period are skipped: their upload may still be
    committing. Symlinks are never followed.
    """
    root = Path(settings.MEDIA_ROOT)
    referenced = set(OcrTask.objects.values_list("file", flat=True))
    cutoff = time.time() - grace_seconds
    found = []
    for folder in (root / "uploads", root / "staging"):
        if not folder.is_dir():
            continue
        for path in folder.rglob("*"):
            if path.is_symlink() or not path.is_file():
                continue
            if path.relative_to(root).as_posix() in referenced:
                continue
            if path.stat().st_mtime > cutoff:
                continue
            found.append(path)
    return found


def cleanup_tasks(
    *,
    older_than_days: int,
    dry_run: bool,
    actor: User | None,
    request: HttpRequest | None = None,
    via: str = "api",
) -> CleanupStats:
    """Delete tasks created more than N days ago and orphaned files; return statistics.

    Files go only after the database change commits (post_delete schedules them), so
    a failed cleanup never leaves rows pointing at missing files.
    """
    if older_than_days < 0:
        raise ValueError("older_than_days must be zero or more.")
    stats = CleanupStats(older_than_days=older_than_days, dry_run=dry_run)
    cutoff = timezone.now() - timedelta(days=older_than_days)
    old = OcrTask.objects.filter(created_at__lt=cutoff)
    root = Path(settings.MEDIA_ROOT)
    orphans = orphan_files(grace_seconds=settings.OCR_ORPHAN_GRACE_SECONDS)
    with transaction.atomic():
        rows = list(old.values_list("file", "size"))
        stats.tasks_deleted = len(rows)
        stats.files_deleted = sum(1 for name, _ in rows if (root / name).exists())
        stats.bytes_freed = sum(
            (root / name).stat().st_size for name, _ in rows if (root / name).exists()
        )
        stats.orphan_files_deleted = len(orphans)
        stats.bytes_freed += sum(path.stat().st_size for path in orphans)
        if not dry_run:
            with deleting(actor=actor, via="cleanup"):
                for task in old.select_related("owner").iterator(chunk_size=500):
                    task.delete()
            transaction.on_commit(
                lambda: [remove_stored(path.relative_to(root).as_posix()) for path in orphans]
            )
        record_event(
            event_type="admin_cleanup",
            user=actor,
            request=request,
            resource_type="task",
            message=("Dry run: nothing deleted" if dry_run else "Cleanup done"),
            metadata={"via": via, **asdict(stats)},
        )
    return stats
