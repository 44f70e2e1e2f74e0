"""Background jobs (django.tasks): thin wrappers that take ids and call one service."""

from django.tasks import task
from django.tasks.base import TaskContext

from .services.reclaim import reclaim_stale_tasks
from .worker.processing import process_task


@task(takes_context=True)
def run_ocr_task(context: TaskContext, task_id: str) -> str:
    """OCR one uploaded document."""
    # Orphans of a killed worker are taken back whenever a worker picks up work (and, under
    # the ocr_worker command, on the heartbeat's timer as well).
    reclaim_stale_tasks()
    return process_task(task_id=task_id, job_id=str(context.task_result.id))
