"""Background jobs (django.tasks): thin wrappers that take ids and call one service."""

from django.tasks import task

from .processing import process_task
from .services import reclaim_stale_tasks


@task
def run_ocr_task(task_id: str) -> str:
    """OCR one uploaded document."""
    # Orphans of a killed worker are taken back whenever a worker picks up work.
    reclaim_stale_tasks()
    return process_task(task_id=task_id)
