"""Handing a task to the background worker, and readying one to be queued again."""

from django.db import transaction

from ..documents import remove_derived
from ..models import OcrTask, Phase, Status


def enqueue(task_id) -> None:
    """Hand a task to the background worker."""
    from ..jobs import run_ocr_task

    run_ocr_task.enqueue(str(task_id))


def reset_for_queue(task: OcrTask, *, keep_pages: bool) -> None:
    """Queue a task again (caller saves): from its first page not stored, or from the start.

    ``keep_pages``: a reclaimed task keeps the pages its dead worker stored, and the next
    attempt reads only the rest; a retry asked for by a user starts again from page one.
    """
    if keep_pages:
        task.pages_done = task.pages.count()
    else:
        # Page rows take their stored images with them (tasks.receivers).
        task.pages.all().delete()
        task.pages_done = 0
    if task.searchable_pdf:
        name = task.searchable_pdf.name
        transaction.on_commit(lambda: remove_derived(name))
        task.searchable_pdf = ""
    task.status = Status.QUEUED
    task.phase = Phase.NONE
    task.job_id = ""
    task.result_text = ""
    task.started_at = None
    task.finished_at = None
    task.heartbeat_at = None
