"""A task queued again by its owner: a failed one retried, a finished one read again.

Both are recorded as ``task_retry`` (a re-read with ``rerun: true``) and start from page one.
"""

from django.contrib.auth.models import User
from django.db import transaction
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from audit.services import record_event

from ..models import OcrTask, Status
from .engine_choice import resolve_engine
from .queue import enqueue, reset_for_queue


class TaskError(Exception):
    """A task action was refused; the message is safe to show the user."""


def task_retry(*, task: OcrTask, actor: User) -> OcrTask:
    """Queue a failed task again from its first page."""
    with transaction.atomic():
        task = OcrTask.objects.select_for_update().get(pk=task.pk)
        if task.status != Status.FAILED:
            raise TaskError(
                format_lazy(
                    _("Only failed tasks can be retried; this one is {status}."),
                    status=task.status,
                )
            )
        reset_for_queue(task, keep_pages=False)
        record_event(
            event_type="task_retry",
            user=actor,
            resource_type="task",
            resource_id=task.pk,
            metadata={"previous_error": task.error, "attempts": task.attempts},
        )
        task.error = ""
        task.error_code = ""
        # A retry is the user asking again: it gets the full OCR_MAX_ATTEMPTS, not what is left.
        task.attempts = 0
        task.save()
        transaction.on_commit(lambda: enqueue(task.pk))
    return task


def task_rerun(
    *,
    task: OcrTask,
    actor: User,
    engine: str | None,
    language: str | None,
    force_ocr: bool,
    batch: int | None = None,
) -> OcrTask:
    """Read a finished task again from its first page, with another engine or OCR forced.

    Recorded as ``task_retry`` with ``rerun: true`` and what changed; the old result
    stays until the new reading replaces it page by page. ``batch``: how many tasks were
    asked to be read again together (tasks.bulk), recorded so one choice reads as one.
    """
    engine, language = resolve_engine(engine=engine, language=language)
    with transaction.atomic():
        task = OcrTask.objects.select_for_update().get(pk=task.pk)
        if task.status not in (Status.COMPLETED, Status.FAILED):
            raise TaskError(
                format_lazy(
                    _("Only finished tasks can be read again; this one is {status}."),
                    status=task.status,
                )
            )
        record_event(
            event_type="task_retry",
            user=actor,
            resource_type="task",
            resource_id=task.pk,
            metadata={
                "rerun": True,
                "previous_status": task.status,
                "previous_engine": task.engine,
                "previous_language": task.language,
                "engine": engine,
                "language": language,
                "force_ocr": force_ocr,
                **({"batch": batch} if batch is not None else {}),
            },
        )
        reset_for_queue(task, keep_pages=False)
        task.engine, task.language, task.force_ocr = engine, language, force_ocr
        task.error = ""
        task.attempts = 0
        task.save()
        transaction.on_commit(lambda: enqueue(task.pk))
    return task
