"""Run OCR on one task, page by page, in the worker process."""

import logging
import os
import socket
import time
from collections.abc import Mapping
from functools import partial
from typing import cast

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.events import Outcome
from audit.outage import CONNECTION_LOST
from audit.recording.client import ClientContext
from audit.services import in_english, record_event

from ..documents import KIND_BY_CONTENT_TYPE, remove_derived, render_limits
from ..failures import ENGINE_FAILED, MISSING_FILE, READER_DIED
from ..models import OcrPage, OcrTask, Phase, Status
from ..ocr.engines import PageResult
from ..ocr.inspect import DocumentRejected
from ..ocr.orientation import Straightening
from ..ocr.page_reader import PageJob, PageRead, PageReaderDied, read_pages
from ..ocr.pages import SourcePage, page_count
from ..ocr.resolution import PdfResolution
from ..pdf.images import Encoded
from ..pdf.prepared_images import PreparedImages, page_image_encodings
from ..pdf.searchable import store_searchable_pdf
from ..storage import local_copy
from . import heartbeat
from .outputs import store_page_image_data

logger = logging.getLogger(__name__)


class TaskVanished(Exception):
    """The task was deleted while it was being processed."""


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def worker_client(task: OcrTask) -> ClientContext:
    """Return the client details for worker events: the upload's request id links them."""
    return ClientContext(ip_address=None, user_agent="", request_id=task.request_id)


def claim(task_id, *, job_id: str = "") -> OcrTask | None:
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
        task.phase = Phase.RENDERING
        task.job_id = job_id
        task.save(
            update_fields=["status", "started_at", "heartbeat_at", "attempts", "phase", "job_id"]
        )
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
                # Pages an earlier attempt stored: this attempt goes on after them.
                "pages_kept": task.pages_done,
                "attempt": task.attempts,
                "worker": worker_name(),
            },
        )
    return task


def this_attempt(task: OcrTask):
    """Return the task's row while this worker's attempt still holds it."""
    # attempts fences off a worker that was given up for dead but wakes up again: the
    # attempt that took over counts one more, so the old one can write nothing.
    return OcrTask.objects.filter(pk=task.pk, status=Status.PROCESSING, attempts=task.attempts)


def set_phase(task: OcrTask, phase: str) -> None:
    """Say what the task is doing now, for the detail page and the API."""
    if task.phase == phase:
        return
    if not this_attempt(task).update(phase=phase, heartbeat_at=timezone.now()):
        raise TaskVanished(str(task.pk))
    task.phase = phase


def save_page(
    task: OcrTask,
    *,
    index: int,
    result: PageResult,
    size,
    seconds: float,
    straightening: Straightening | None = None,
    image_name: str = "",
    source: SourcePage | None = None,
) -> None:
    """Store one page's result and advance the task's progress."""
    straightening = straightening or Straightening()
    source = source or SourcePage(index=index, size=size)
    with transaction.atomic():
        updated = this_attempt(task).update(pages_done=index + 1, heartbeat_at=timezone.now())
        if not updated:
            raise TaskVanished(str(task.pk))
        OcrPage.objects.update_or_create(
            task=task,
            index=index,
            defaults={
                "text": result.text,
                "confidence": result.confidence,
                "source": result.source,
                "lines": [line.as_json() for line in result.lines],
                "width": size[0],
                "height": size[1],
                "seconds": round(seconds, 4),
                "rotation": straightening.rotation,
                "skew": straightening.skew,
                "orientation_certain": straightening.orientation_certain,
                "image": image_name,
                "attempt": task.attempts,
                "dpi": source.dpi,
                "note": source.note[:300],
                "text_layer": source.text_layer_note[:300],
            },
        )


def finish(
    task: OcrTask,
    *,
    outcome: str,
    error: str = "",
    error_code: str = "",
    seconds: float,
    searchable_pdf: str = "",
) -> None:
    """Mark the task completed or failed and record task_complete."""
    with transaction.atomic():
        current = (
            OcrTask.objects.select_for_update()
            .filter(pk=task.pk, attempts=task.attempts, status=Status.PROCESSING)
            .first()
        )
        if current is None:
            # Deleted, or taken over by another worker after this one was given up for dead.
            remove_derived(searchable_pdf)
            return
        pages = list(current.pages.order_by("index").values_list("text", flat=True))
        current.status = Status.COMPLETED if outcome == Outcome.SUCCESS else Status.FAILED
        current.finished_at = timezone.now()
        current.error = error[:500]
        current.error_code = error_code
        # Pages are separated by form feeds, as pdftotext does, so they stay findable.
        current.result_text = "\f".join(pages) if outcome == Outcome.SUCCESS else ""
        current.phase = Phase.NONE
        current.searchable_pdf = searchable_pdf
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


def store_read_page(task: OcrTask, *, read: PageRead) -> None:
    """Store one page read by read_pages (in this process or a child) at its own index."""
    if read.ocred:
        set_phase(task, Phase.READING)
    name = ""
    if read.image_jpeg:
        name = store_page_image_data(task_id=task.pk, index=read.index, data=read.image_jpeg)
    try:
        save_page(
            task,
            index=read.index,
            result=read.result,
            size=read.size,
            seconds=read.seconds,
            straightening=read.straightening,
            image_name=name,
            source=SourcePage(
                index=read.index,
                size=read.size,
                dpi=read.dpi,
                note=read.note,
                text_layer_note=read.text_layer_note,
            ),
        )
    except BaseException:
        remove_derived(name)
        raise


def build_outputs(task: OcrTask, *, prepared: PreparedImages | None = None) -> str:
    """Build and store the searchable PDF; return its storage name ("" if it failed)."""
    set_phase(task, Phase.BUILDING)
    try:
        return store_searchable_pdf(task=task, prepared=prepared)
    except Exception:  # the text is read; a broken PDF build must not throw it away
        logger.exception("Building the searchable PDF failed for task %s", task.pk)
        return ""


def process_task(*, task_id, job_id: str = "") -> str:
    """OCR one task from start to finish; return its final status (or why it was skipped).

    Failure is a state: a corrupt file or an engine error ends the task `failed` with a
    readable message; only a lost database connection reaches the worker loop.
    """
    task = claim(task_id, job_id=job_id)
    if task is None:
        return "skipped"
    with heartbeat.beating(task_id=task.pk, attempts=task.attempts):
        return _process_claimed(task)


def _process_claimed(task: OcrTask) -> str:
    task_id = task.pk
    started = time.perf_counter()
    try:
        # Inside the try: a claimed task must end completed or failed, never stay processing.
        kind = KIND_BY_CONTENT_TYPE[task.content_type]
        # A reclaimed task keeps what its dead worker stored: each page is read once.
        stored = frozenset(task.pages.values_list("index", flat=True))
        # The output's image encodings, chosen by the page children as they read each page.
        prepare_output = partial(
            page_image_encodings,
            quality=settings.OCR_OUTPUT_JPEG_QUALITY,
            keep_lossless=settings.OCR_OUTPUT_KEEP_LOSSLESS,
        )
        with local_copy(task.file.name) as path, PreparedImages() as prepared:
            resolution = PdfResolution.from_settings()
            count = page_count(path=path, kind=kind, max_pixels=resolution.max_pixels)
            jobs = (
                PageJob(
                    path=path,
                    kind=kind,
                    index=index,
                    resolution=resolution,
                    limits=render_limits(),
                    engine=task.engine,
                    language=task.language,
                    force_ocr=task.force_ocr,
                    prepare_output=prepare_output,
                    exit_on_page=settings.OCR_PAGE_CHILD_EXIT_ON,
                )
                for index in range(count)
                if index not in stored
            )
            # In page order, so pages_done (index + 1 of the last stored) only ever grows.
            reads = read_pages(jobs, processes=settings.OCR_PAGE_PROCESSES)
            try:
                for read in reads:
                    store_read_page(task, read=read)
                    prepared.add(cast(Mapping[str, Encoded | None], read.prepared))
            finally:
                reads.close()  # a deleted task: cancel the pages not started yet
            searchable_pdf = build_outputs(task, prepared=prepared)
    except TaskVanished:
        logger.info("Task %s was deleted while processing; stopped.", task_id)
        return "deleted"
    except DocumentRejected as rejected:
        finish(
            task,
            outcome=Outcome.FAILURE,
            error=in_english(rejected.message),
            error_code=rejected.code,
            seconds=elapsed(started),
        )
        return Status.FAILED
    except PageReaderDied as died:
        finish(
            task,
            outcome=Outcome.FAILURE,
            error=in_english(died.args[0]),
            error_code=READER_DIED,
            seconds=elapsed(started),
        )
        return Status.FAILED
    except FileNotFoundError:
        finish(
            task,
            outcome=Outcome.FAILURE,
            error="The uploaded file is missing from storage.",
            error_code=MISSING_FILE,
            seconds=elapsed(started),
        )
        return Status.FAILED
    except CONNECTION_LOST:
        # The database went away (a restart), not the document: left `processing`
        # without a heartbeat, the task is reclaimed and read again, not failed.
        raise
    except Exception as error:  # any engine failure must end as a state, not a crash
        logger.exception("OCR failed for task %s", task_id)
        finish(
            task,
            outcome=Outcome.FAILURE,
            error=f"OCR failed: {type(error).__name__}: {error}",
            error_code=ENGINE_FAILED,
            seconds=elapsed(started),
        )
        return Status.FAILED
    finish(task, outcome=Outcome.SUCCESS, seconds=elapsed(started), searchable_pdf=searchable_pdf)
    return Status.COMPLETED


def elapsed(started: float) -> float:
    return time.perf_counter() - started
