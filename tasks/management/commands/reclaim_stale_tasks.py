"""Take back OCR tasks left `processing` by a worker that died."""

from django.core.management.base import BaseCommand

from tasks.services.reclaim import reclaim_stale_tasks


class Command(BaseCommand):
    help = "Requeue (or fail, after OCR_MAX_ATTEMPTS) tasks whose worker stopped responding."

    def handle(self, *args, **options):
        stats = reclaim_stale_tasks()
        self.stdout.write(f"Requeued {stats['requeued']}, failed {stats['failed']} stale task(s).")
