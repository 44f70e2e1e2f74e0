"""Run the django-tasks database worker with the OCR heartbeat beside it.

It extends audit's db_worker (not django-tasks-db's own), so the one worker process
`make run` starts also signs the automatic audit checkpoints.
"""

import os

from django.utils.autoreload import DJANGO_AUTORELOAD_ENV

from audit.management.commands.db_worker import Command as DbWorkerCommand
from tasks.heartbeat import Heartbeat
from tasks.services import reclaim_stale_tasks


class Command(DbWorkerCommand):
    help = (
        "Run the background worker; it heartbeats while it reads and reclaims tasks of "
        "workers that stopped beating (after OCR_STALE_AFTER_SECONDS)."
    )

    def handle(self, *args, **options):
        # With --reload the parent process only watches files; the child does the work.
        if not options.get("reload") or os.environ.get(DJANGO_AUTORELOAD_ENV) == "true":
            stats = reclaim_stale_tasks()
            self.stdout.write(
                f"Reclaimed stale tasks at start: requeued {stats['requeued']}, "
                f"failed {stats['failed']}."
            )
            Heartbeat().start()
        return super().handle(*args, **options)
