"""Write paths for OCR tasks: create from uploads, retry, delete, reclaim."""

import logging
from collections.abc import Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.contrib.auth.models import User
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from audit.client import ClientContext
from audit.events import Outcome
from audit.services import record_event

from .models import OcrTask, Status
from .ocr.engines import available_engines
from .uploads import (
    CheckedUpload,
    UploadRejected,
    UploadsRejected,
    check_upload,
    remove_stored,
    store_checked,
    upload_body_limit,
)

logger = logging.getLogger(__name__)

DEFAULT_LANGUAGES = {"tesseract": "eng", "rapidocr": "ch"}


class TaskError(Exception):
    """A task action was refused; the message is safe to show the user."""


class EngineChoiceError(ValueError):
    """An engine or language this service does not offer; ``field`` says which was wrong."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Deletion:
    """Who is deleting tasks and through which surface, for the post_delete receiver."""

    actor: User | None
    via: str
    client: ClientContext | None = None


current_deletion: ContextVar[Deletion | None] = ContextVar("current_deletion", default=None)


@contextmanager
def deleting(*, actor: User | None, via: str, client: ClientContext | None = None):
    """Tell the task_delete receiver who is deleting and how, for the enclosed block."""
    token = current_deletion.set(Deletion(actor=actor, via=via, client=client))
    try:
        yield
    finally:
        current_deletion.reset(token)


def resolve_engine(*, engine: str | None, language: str | None) -> tuple[str, str]:
    """Return a valid (engine, language) pair, defaults filled in; raise EngineChoiceError."""
    engines = available_engines()
    engine = (engine or settings.OCR_DEFAULT_ENGINE).strip()
    if engine not in engines:
        raise EngineChoiceError(
            f"Unknown engine {engine!r}; choose one of: {', '.join(engines)}.", field="engine"
        )
    language = (language or DEFAULT_LANGUAGES.get(engine) or engines[engine][0]).strip()
    if language not in engines[engine]:
        raise EngineChoiceError(
            f"Engine {engine!r} does not read language {language!r}; "
            f"choose one of: {', '.join(engines[engine])}.",
            field="language",
        )
    return engine, language


def record_rejection(*, owner, request: HttpRequest | None, error: UploadRejected, size) -> None:
    """Audit a refused upload; it stores nothing, but the attempt is on record."""
    record_event(
        event_type="file_upload",
        outcome=Outcome.FAILURE,
        user=owner,
        request=request,
        resource_type="file",
        message=error.message,
        metadata={"filename": error.name, "size": size, "reason": error.code},
    )


def refuse_oversized_body(*, owner, request: HttpRequest) -> None:
    """Refuse (and audit) an upload request whose body is too large to be valid, unread."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > upload_body_limit():
        error = UploadRejected(
            format_lazy(
                _(
                    "Request body is {length} bytes; uploads are limited to {files} files of "
                    "{size} bytes."
                ),
                length=f"{length:,}",
                files=settings.OCR_MAX_FILES_PER_REQUEST,
                size=f"{settings.OCR_MAX_FILE_BYTES:,}",
            ),
            code="too_large",
            status=413,
        )
        record_rejection(owner=owner, request=request, error=error, size=length)
        raise error


def check_all(*, owner, uploads: Sequence[UploadedFile], request) -> list[CheckedUpload]:
    """Check every upload; if any is refused, discard them all and say what is wrong
    with each refused file (one audited refusal per file)."""
    if not uploads:
        raise UploadRejected(_("Choose at least one file to upload."), code="no_file")
    limit = settings.OCR_MAX_FILES_PER_REQUEST
    if len(uploads) > limit:
        error = UploadRejected(
            format_lazy(
                _("{count} files sent; at most {limit} files per upload."),
                count=len(uploads),
                limit=limit,
            ),
            code="too_many_files",
        )
        size = sum(upload.size or 0 for upload in uploads)
        record_rejection(owner=owner, request=request, error=error, size=size)
        raise error
    checked: list[CheckedUpload] = []
    refused: list[UploadRejected] = []
    try:
        for upload in uploads:
            try:
                checked.append(check_upload(upload))
            except UploadRejected as error:
                record_rejection(owner=owner, request=request, error=error, size=upload.size)
                refused.append(error)
        if refused:
            raise refused[0] if len(refused) == 1 else UploadsRejected(refused)
    except BaseException:
        for item in checked:
            item.discard()
        raise
    return checked


def task_create_batch(
    *,
    owner: User,
    uploads: Sequence[UploadedFile],
    engine: str | None = None,
    language: str | None = None,
    request: HttpRequest | None = None,
) -> list[OcrTask]:
    """Validate and store uploads, create one queued task per document and enqueue them.

    All or nothing: one refused file refuses the request, and nothing of it is stored.
    """
    engine, language = resolve_engine(engine=engine, language=language)
    checked = check_all(owner=owner, uploads=uploads, request=request)
    stored: list[str] = []
    request_id = getattr(request, "request_id", "")
    try:
        with transaction.atomic():
            tasks = []
            for item in checked:
                name = store_checked(item)
                stored.append(name)
                task = OcrTask.objects.create(
                    owner=owner,
                    original_name=item.original_name,
                    file=name,
                    content_type=item.kind.content_type,
                    size=item.size,
                    sha256=item.sha256,
                    page_count=item.page_count,
                    engine=engine,
                    language=language,
                    request_id=request_id,
                )
                record_event(
                    event_type="file_upload",
                    user=owner,
                    request=request,
                    resource_type="file",
                    resource_id=task.pk,
                    metadata={
                        "filename": item.original_name,
                        "size": item.size,
                        "content_type": item.kind.content_type,
                        "sha256": item.sha256,
                        "pages": item.page_count,
                    },
                )
                record_event(
                    event_type="task_create",
                    user=owner,
                    request=request,
                    resource_type="task",
                    resource_id=task.pk,
                    metadata={"engine": engine, "language": language, "pages": item.page_count},
                )
                tasks.append(task)
                transaction.on_commit(partial(enqueue, task.pk))
    except BaseException:
        # The database rolled back; the files it would have pointed to go too.
        for name in stored:
            remove_stored(name)
        for item in checked:
            item.discard()
        raise
    return tasks


def enqueue(task_id) -> None:
    """Hand a task to the background worker."""
    from .jobs import run_ocr_task

    run_ocr_task.enqueue(str(task_id))


def task_retry(*, task: OcrTask, actor: User, request: HttpRequest | None) -> OcrTask:
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
        reset_for_queue(task)
        record_event(
            event_type="task_retry",
            user=actor,
            request=request,
            resource_type="task",
            resource_id=task.pk,
            metadata={"previous_error": task.error, "attempts": task.attempts},
        )
        task.error = ""
        # A retry is the user asking again: it gets the full OCR_MAX_ATTEMPTS, not what is left.
        task.attempts = 0
        task.save()
        transaction.on_commit(lambda: enqueue(task.pk))
    return task


def reset_for_queue(task: OcrTask) -> None:
    """Forget a task's partial results so it runs again from the start (caller saves)."""
    task.pages.all().delete()
    task.status = Status.QUEUED
    task.pages_done = 0
    task.result_text = ""
    task.started_at = None
    task.finished_at = None
    task.heartbeat_at = None


def task_delete(*, task: OcrTask, actor: User, request: HttpRequest | None, via: str):
    """Delete a task, its results and (after commit) its file; audited by post_delete."""
    with deleting(actor=actor, via=via), transaction.atomic():
        task.delete()


def reclaim_stale_tasks(*, now=None) -> dict[str, int]:
    """Take back tasks whose worker stopped sending progress: requeue, or fail them.

    A worker killed mid-document leaves its task `processing` forever; after
    OCR_STALE_AFTER_SECONDS without a heartbeat it is retried up to OCR_MAX_ATTEMPTS.
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
            if task.attempts < settings.OCR_MAX_ATTEMPTS:
                reset_for_queue(task)
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
    if stale_ids:
        logger.warning("Reclaimed stale OCR tasks: %s", stats)
    return stats
