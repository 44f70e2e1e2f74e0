"""Tasks and job rows a dead worker left behind, taken back: requeued, or failed for good.

Run by every OCR job before its task (tasks.jobs), on the worker heartbeat's timer and by
``manage.py reclaim_stale_tasks``.
"""

import logging
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.events import Outcome
from audit.recording.client import ClientContext
from audit.services import record_event

from ..failures import WORKER_GONE
from ..models import OcrTask, Status
from .queue import enqueue, reset_for_queue

logger = logging.getLogger(__name__)


def reclaim_stale_tasks(*, now=None) -> dict[str, int]:
    """Take back tasks whose worker stopped sending progress: requeue, or fail them.

    A worker killed mid-document leaves its task `processing` forever; after
    OCR_STALE_AFTER_SECONDS without a heartbeat it is retried up to OCR_MAX_ATTEMPTS,
    keeping the pages already stored: the next attempt goes on at the first page not read.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.OCR_STALE_AFTER_SECONDS)
    stats = {"requeued": 0, "failed": 0}
    stale_ids = list(
        OcrTask.objects.filter(status=Status.PROCESSING, heartbeat_at__lt=cutoff).values_list(
            "pk", flat=True
        )
    )
    for pk in stale_ids:
        with transaction.atomic():
            task = (
                OcrTask.objects.select_for_update()
                .filter(pk=pk, status=Status.PROCESSING, heartbeat_at__lt=cutoff)
                .first()
            )
            if task is None:
                continue
            client = ClientContext(request_id=task.request_id)
            end_dead_job(task.job_id, now=now)
            if task.attempts < settings.OCR_MAX_ATTEMPTS:
                reset_for_queue(task, keep_pages=True)
                task.save()
                stats["requeued"] += 1
                transaction.on_commit(partial(enqueue, pk))
                outcome, message = Outcome.SUCCESS, "Worker stopped responding; task requeued"
            else:
                task.status = Status.FAILED
                task.error = (
                    f"The worker stopped responding {task.attempts} times; giving up. "
                    "Retry to try again."
                )
                task.error_code = WORKER_GONE
                task.finished_at = now
                task.save()
                stats["failed"] += 1
                outcome, message = Outcome.FAILURE, task.error
            record_event(
                event_type="task_reclaim",
                outcome=outcome,
                user=task.owner,
                client=client,
                resource_type="task",
                resource_id=task.pk,
                message=message,
                metadata={"attempts": task.attempts, "status": task.status},
            )
    jobs_ended = end_abandoned_jobs(cutoff=cutoff, now=now)
    if stale_ids or jobs_ended:
        logger.warning("Reclaimed stale OCR tasks: %s; job rows ended: %d", stats, jobs_ended)
    return stats


DEAD_JOB_MESSAGE = "The worker running this job stopped responding; its task was reclaimed."


class WorkerLost(Exception):
    """The worker running a job stopped responding; its job row is ended with this class.

    Never raised: django.tasks imports the class a failed job row names (its
    ``exception_class_path``) when the row's result is read, so the name must exist.
    """


def end_dead_job(job_id: str, *, now) -> int:
    """End the django-tasks job row of a reclaimed attempt, which its dead worker cannot."""
    from django_tasks_db.models import DBTaskResult

    if not job_id:
        return 0
    return DBTaskResult.objects.filter(pk=job_id, status="RUNNING").update(
        status="FAILED",
        finished_at=now,
        # The path tasks.services re-exports WorkerLost at, not this module's: rows
        # written before the services became a package name it too.
        exception_class_path="tasks.services.WorkerLost",
        traceback=DEAD_JOB_MESSAGE,
        return_value=None,
    )


def end_abandoned_jobs(*, cutoff, now) -> int:
    """End OCR job rows left RUNNING since before `cutoff` that no live attempt owns.

    A worker killed between taking a job and claiming its task leaves such a row (and a
    task still queued, which is queued again here).
    """
    from django_tasks_db.models import DBTaskResult

    from ..jobs import run_ocr_task

    ended = 0
    rows = DBTaskResult.objects.filter(
        status="RUNNING", task_path=run_ocr_task.module_path, started_at__lt=cutoff
    )
    for job in rows.only("pk", "args_kwargs"):
        args = (job.args_kwargs or {}).get("args") or [None]
        task = OcrTask.objects.filter(pk=args[0]).only("status", "job_id").first()
        if task is not None and task.status == Status.PROCESSING:
            continue  # its task is reclaimed (and this row ended) once the heartbeat stops
        with transaction.atomic():
            if not end_dead_job(str(job.pk), now=now):
                continue
            ended += 1
            if task is not None and task.status == Status.QUEUED:
                transaction.on_commit(partial(enqueue, task.pk))
    return ended
