"""The background worker: django-tasks-db's db_worker with the OCR heartbeat beside it.

The one worker command a deployment runs. Beside running OCR jobs it reclaims tasks of
workers that died, heartbeats the task in hand, signs the audit trail's checkpoints
(audit.worker_duties) and waits out a database restart instead of exiting.
django-tasks-db's own `db_worker` stays as it is: it runs jobs and nothing else.
"""

import os

from django.conf import settings
from django.utils.autoreload import DJANGO_AUTORELOAD_ENV
from django_tasks_db.management.commands import db_worker

from audit.worker_duties import sign_due, start_signing, work_through_outages
from tasks.ocr.page_reader import start_reader_server
from tasks.services.reclaim import reclaim_stale_tasks
from tasks.worker.heartbeat import Heartbeat


class Command(db_worker.Command):
    help = (
        "Run the background worker: OCR jobs, a heartbeat for the task in hand, reclaiming "
        "tasks of workers that stopped beating (after OCR_STALE_AFTER_SECONDS), and the "
        "audit trail's signed checkpoints (the Merkle tree head every "
        "AUDIT_CHECKPOINT_EVERY_SECONDS while it grows, HMAC checkpoints every "
        "AUDIT_CHECKPOINT_EVERY_EVENTS events or minutes)."
    )

    def handle(self, *args, **options):
        # With --reload the parent process only watches files; the child does the work.
        if options.get("reload") and os.environ.get(DJANGO_AUTORELOAD_ENV) != "true":
            return super().handle(*args, **options)
        # First, so the page readers' server loads while the worker reclaims and signs.
        start_reader_server(settings.OCR_PAGE_PROCESSES)
        stats = reclaim_stale_tasks()
        self.stdout.write(
            f"Reclaimed stale tasks at start: requeued {stats['requeued']}, "
            f"failed {stats['failed']}."
        )
        heartbeat = Heartbeat(reclaim=reclaim_stale_tasks)
        heartbeat.start()
        sign_due()
        # A batch run works through the queue and ends: it signs at start only.
        signing = None if options.get("batch") else start_signing()
        try:
            return work_through_outages(super().handle, *args, **options)
        finally:
            heartbeat.stop()
            if signing is not None:
                signing.set()
