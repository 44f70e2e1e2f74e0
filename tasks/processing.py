"""Run OCR on one task, page by page, in the worker process."""

import logging
import os
import socket
import time
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.client import ClientContext
from audit.events import Outcome
from audit.services import in_english, record_event

from .models import OcrPage, OcrTask, Status
from .ocr.detect import ACCEPTED_TYPES
from .ocr.engines import PageResult, get_engine
from .ocr.inspect import DocumentRejected
from .ocr.pages import iter_pages

logger = logging.getLogger(__name__)

KIND_BY_CONTENT_TYPE = {kind.content_type: kind for kind in ACCEPTED_TYPES}


class TaskVanished(Exception):
    """The task was deleted while it was being processed."""


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def worker_client(task: OcrTask) -> ClientContext:
    """Return the client details for worker events: the upload's request id links them."""
    return ClientContext(ip_address=None, user_agent="", request_id=task.request_id)


def claim(task_id) -> OcrTask | None:
    """Mark a queued task as processing and return it, or None if it is not claimable."""
    with transaction.atomic():
        # of=("self",): lock the task row only. Locking the joined owner row too
        # would make a second worker skip another task of the same user, and that
        # task would stay queued with no job left to run it.
        task = (
            OcrTask.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("owner")
            .filter(pk=task_id, status=Status.QUEUED)
            .first()
        )
        if task is None:
            return None
        now = timezone.now()
        task.status = Status.PROCESSING
        task.started_at = now
        task.heartbeat_at = now
        task.attempts += 1
        task.save(update_fields=["status", "started_at", "heartbeat_at", "attempts"])
        record_event(
            event_type="task_process",
            user=task.owner,
            client=worker_client(task),
            resource_type="task",
            resource_id=task.pk,
            metadata={
                "engine": task.engine,
                "language": task.language,
                "pages": task.page_count,
                "attempt": task.attempts,
                "worker": worker_name(),
            },
        )
    return task


def save_page(task: OcrTask, *, index: int, result: PageResult, size, seconds: float) -> None:
    """Store one page's result and advance the task's progress."""
    with transaction.atomic():
        updated = OcrTask.objects.filter(pk=task.pk, status=Status.PROCESSING).update(
            pages_done=index + 1, heartbeat_at=timezone.now()
        )
        if not updated:
            raise TaskVanished(str(task.pk))
        OcrPage.objects.update_or_create(
            task=task,
            index=index,
            defaults={
                "text": result.text,
                "confidence": result.confidence,
                "source": result.source,
                "lines": [
                    {"text": line.text, "confidence": line.confidence, "box": list(line.box)}
                    for line in result.lines
                ],
                "width": size[0],
                "height": size[1],
                "seconds": round(seconds, 4),
            },
        )


def finish(task: OcrTask, *, outcome: str, error: str = "", seconds: float) -> None:
    """Mark the task completed or failed and record task_complete."""
    with transaction.atomic():
        current = OcrTask.objects.select_for_update().filter(pk=task.pk).first()
        if current is None:
            return
        pages = list(current.pages.order_by("index").values_list("text", flat=True))
        current.status = Status.COMPLETED if outcome == Outcome.SUCCESS else Status.FAILED
        current.finished_at = timezone.now()
        current.error = error[:500]
        # Pages are separated by form feeds, as pdftotext does, so they stay findable.
        current.result_text = "\f".join(pages) if outcome == Outcome.SUCCESS else ""
        current.save()
        record_event(
            event_type="task_complete",
            outcome=outcome,
            user=current.owner,
            client=worker_client(current),
            resource_type="task",
            resource_id=current.pk,
            message=error[:500],
            metadata={
                "pages": current.pages_done,
                "page_count": current.page_count,
                "seconds": round(seconds, 3),
                "engine": current.engine,
                "language": current.language,
                "error": error[:500],
            },
        )


def process_task(*, task_id) -> str:
    """OCR one task from start to finish; return its final status (or why it was skipped).

    Failure is a state: a corrupt file or an engine error ends the task `failed` with a
    readable message; nothing raised here reaches the worker loop.
    """
    task = claim(task_id)
    if task is None:
        return "skipped"
    started = time.perf_counter()
    path = Path(settings.MEDIA_ROOT) / task.file.name  # type: ignore[operator]  # a task has a file
    try:
        # Inside the try: a claimed task must end completed or failed, never stay processing.
        kind = KIND_BY_CONTENT_TYPE[task.content_type]
        engine = get_engine(task.engine)
        pages = iter_pages(
            path=str(path), kind=kind, dpi=settings.OCR_PDF_DPI, max_pixels=settings.OCR_MAX_PIXELS
        )
        for page in pages:
            page_started = time.perf_counter()
            if page.text_layer is not None:
                result = page.text_layer
            else:
                # A page without a text layer carries its image.
                result = engine.recognize(page.image, language=task.language)  # type: ignore[arg-type]
            save_page(
                task,
                index=page.index,
                result=result,
                size=page.size,
                seconds=time.perf_counter() - page_started,
            )
    except TaskVanished:
        logger.info("Task %s was deleted while processing; stopped.", task_id)
        return "deleted"
    except DocumentRejected as rejected:
        finish(
            task,
            outcome=Outcome.FAILURE,
            error=in_english(rejected.message),
            seconds=elapsed(started),
        )
        return Status.FAILED
    except FileNotFoundError:
        finish(
            task,
            outcome=Outcome.FAILURE,
            error="The uploaded file is missing from storage.",
            seconds=elapsed(started),
        )
        return Status.FAILED
    except Exception as error:  # any engine failure must end as a state, not a crash
        logger.exception("OCR failed for task %s", task_id)
        finish(
            task,
            outcome=Outcome.FAILURE,
            error=f"OCR failed: {type(error).__name__}: {error}",
            seconds=elapsed(started),
        )
        return Status.FAILED
    finish(task, outcome=Outcome.SUCCESS, seconds=elapsed(started))
    return Status.COMPLETED


def elapsed(started: float) -> float:
    return time.perf_counter() - started
