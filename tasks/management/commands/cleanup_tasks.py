"""Delete old OCR tasks with their files, and orphaned files (same service as the API)."""

from django.conf import settings
from django.core.management.base import BaseCommand

from tasks.cleanup import cleanup_tasks


class Command(BaseCommand):
    help = "Delete tasks older than N days with their files, and files no task refers to."

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than-days",
            type=int,
            default=settings.OCR_CLEANUP_DAYS,
            help=f"Age in days (default {settings.OCR_CLEANUP_DAYS}, OCR_CLEANUP_DAYS).",
        )
        parser.add_argument("--dry-run", action="store_true", help="Count, delete nothing.")

    def handle(self, *args, older_than_days: int, dry_run: bool, **options):
        stats = cleanup_tasks(
            older_than_days=older_than_days, dry_run=dry_run, actor=None, via="command"
        )
        prefix = "Would delete" if dry_run else "Deleted"
        self.stdout.write(
            f"{prefix} {stats.tasks_deleted} task(s), {stats.files_deleted} task file(s), "
            f"{stats.orphan_files_deleted} orphaned file(s) and {stats.temp_files_deleted} "
            f"abandoned upload spool file(s); {stats.bytes_freed:,} bytes freed."
        )
