"""Write paths for OCR tasks: create from uploads, retry, delete, reclaim; downloads on record."""

import logging
import uuid
from collections.abc import Iterable, Sequence
from contextvars import ContextVar
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

from audit.events import Outcome
from audit.recording.client import ClientContext
from audit.services import record_event

from .documents import remove_derived
from .failures import WORKER_GONE
from .models import OcrTask, Phase, Status
from .ocr.engines import available_engines
from .pdf.searchable import store_searchable_pdf
from .storage import StorageWriteFailed, file_size
from .throttling import refuse_too_frequent
from .uploads import (
    CheckedUpload,
    UploadRejected,
    UploadsRejected,
    check_upload,
    human_size,
    remove_stored,
    storage_refusal,
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


# The tasks whose task_delete the deleting service has recorded: the post_delete
# receiver records only the deletions no service made (cascades, a shell).
recorded_deletions: ContextVar[frozenset[uuid.UUID]] = ContextVar(
    "recorded_deletions", default=frozenset()
)


def resolve_engine(*, engine: str | None, language: str | None) -> tuple[str, str]:
    """Return a valid (engine, language) pair, defaults filled in; raise EngineChoiceError."""
    engines = available_engines()
    engine = (engine or settings.OCR_DEFAULT_ENGINE).strip()
    if engine not in engines:
        raise EngineChoiceError(
            _("Unknown engine “%(engine)s”; choose one of: %(choices)s.")
            % {"engine": engine, "choices": ", ".join(engines)},
            field="engine",
        )
    language = (language or DEFAULT_LANGUAGES.get(engine) or engines[engine][0]).strip()
    if language not in engines[engine]:
        raise EngineChoiceError(
            _(
                "Engine “%(engine)s” does not read language “%(language)s”; "
                "choose one of: %(choices)s."
            )
            % {"engine": engine, "language": language, "choices": ", ".join(engines[engine])},
            field="language",
        )
    return engine, language


def record_rejection(*, owner, error: UploadRejected, size) -> None:
    """Audit a refused upload; it stores nothing, but the attempt is on record."""
    record_event(
        event_type="file_upload",
        outcome=Outcome.FAILURE,
        user=owner,
        resource_type="file",
        message=error.message,
        metadata={"filename": error.name, "size": size, "reason": error.code},
    )


def refuse_unstorable(*, owner, name: str, error: BaseException, size) -> UploadRejected:
    """Audit and return the refusal (507) of an upload the disk or storage could not take."""
    refusal = storage_refusal(name=name, error=error)
    logger.error("Upload refused, storage write failed: %s", error)
    record_rejection(owner=owner, error=refusal, size=size)
    return refusal


def refuse_before_reading(*, owner, request: HttpRequest) -> None:
    """Refuse an upload request that cannot be taken, before its body is read.

    Too frequent (429, UPLOAD_THROTTLE_RATE) or too large to be valid (413, audited).
    The upload page and the API both call this, so both share the rules and the bucket.
    """
    refuse_too_frequent(request=request)
    refuse_oversized_body(owner=owner, request=request)


def refuse_oversized_body(*, owner, request: HttpRequest) -> None:
    """Refuse (and audit) an upload request whose body is too large to be valid, unread."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > upload_body_limit():
        error = UploadRejected(
            format_lazy(
                _("Request body is {length}; uploads are limited to {files} files of {size}."),
                length=human_size(length),
                files=settings.OCR_MAX_FILES_PER_REQUEST,
                size=human_size(settings.OCR_MAX_FILE_BYTES),
            ),
            code="too_large",
            status=413,
        )
        record_rejection(owner=owner, error=error, size=length)
        raise error


def check_all(*, owner, uploads: Sequence[UploadedFile]) -> list[CheckedUpload]:
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
        record_rejection(owner=owner, error=error, size=size)
        raise error
    checked: list[CheckedUpload] = []
    refused: list[UploadRejected] = []
    try:
        for position, upload in enumerate(uploads):
            try:
                checked.append(check_upload(upload))
            except UploadRejected as error:
                record_rejection(owner=owner, error=error, size=upload.size)
                error.position = position
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
    force_ocr: bool = False,
    request: HttpRequest | None = None,
) -> list[OcrTask]:
    """Validate and store uploads, create one queued task per document and enqueue them.

    All or nothing: one refused file refuses the request, and nothing of it is stored.
    `force_ocr` has every page OCRed, PDF text layers or not.
    """
    engine, language = resolve_engine(engine=engine, language=language)
    checked = check_all(owner=owner, uploads=uploads)
    stored: list[str] = []
    request_id = getattr(request, "request_id", "")
    item = None
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
                    force_ocr=force_ocr,
                    request_id=request_id,
                )
                record_event(
                    event_type="file_upload",
                    user=owner,
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
                    resource_type="task",
                    resource_id=task.pk,
                    metadata={
                        "engine": engine,
                        "language": language,
                        "pages": item.page_count,
                        "force_ocr": force_ocr,
                    },
                )
                tasks.append(task)
                transaction.on_commit(partial(enqueue, task.pk))
    except BaseException as error:
        # The database rolled back; the files it would have pointed to go too.
        for name in stored:
            remove_stored(name)
        for each in checked:
            each.discard()
        if isinstance(error, StorageWriteFailed) and item is not None:
            # Outside the rolled-back transaction, so the refusal stays on record.
            refusal = refuse_unstorable(
                owner=owner, name=item.original_name, error=error, size=item.size
            )
            raise refusal from error
        raise
    return tasks


def enqueue(task_id) -> None:
    """Hand a task to the background worker."""
    from .jobs import run_ocr_task

    run_ocr_task.enqueue(str(task_id))


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


def task_delete(*, task: OcrTask, actor: User | None, via: str) -> None:
    """Delete a task, its results and (after commit) its files; record task_delete."""
    task_delete_many(tasks=[task], actor=actor, via=via)


def task_delete_many(*, tasks: Iterable[OcrTask], actor: User | None, via: str) -> int:
    """Delete tasks, all or none, recording one task_delete each; return how many.

    ``via`` names the surface: page, api, admin or cleanup. Files go after the commit
    (tasks.receivers), so a rolled-back deletion never leaves a row without its file.
    """
    deleted = 0
    with transaction.atomic():
        for task in tasks:
            record_task_delete(task, actor=actor, via=via)
            token = recorded_deletions.set(recorded_deletions.get() | {task.pk})
            try:
                task.delete()
            finally:
                recorded_deletions.reset(token)
            deleted += 1
    return deleted


def record_task_delete(task: OcrTask, *, actor: User | None, via: str, **metadata) -> None:
    """Record that the task is being deleted: by whom, how, and what it was."""
    record_event(
        event_type="task_delete",
        user=actor,
        resource_type="task",
        resource_id=task.pk,
        metadata={
            "via": via,
            "owner": task.owner.get_username() if task.owner_id else "",
            "filename": task.original_name,
            "status": task.status,
            **metadata,
        },
    )


def record_task_download(
    *, task: OcrTask, actor: User, via: str, fmt: str, size: int, **metadata
) -> None:
    """Record that the task's result (or its original, ``fmt="original"``) is handed out.

    Called by whatever serves the bytes (tasks.web.downloads, tasks.bulk) before the
    first one goes, for the page and the API alike: a copy that left is on the record,
    and a download that fails before that (no such result) records nothing. ``size`` is
    in bytes; the client (address, agent, request id) is the request being served.
    """
    record_event(
        event_type="task_download",
        user=actor,
        resource_type="task",
        resource_id=task.pk,
        metadata={
            "via": via,
            "format": fmt,
            "filename": task.original_name,
            "size": size,
            "pages": task.page_count,
            **metadata,
        },
    )


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

    from .jobs import run_ocr_task

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


def build_missing_searchable_pdfs() -> tuple[int, int]:
    """Store a searchable PDF for each completed task without a whole one; return (built, failed).

    Without one: none was stored (the build failed, the storage was full), or the one
    named is missing from storage or empty (a file cut short before writes were whole).
    """
    built = failed = 0
    completed = OcrTask.objects.filter(status=Status.COMPLETED)
    for task in completed.only("pk", "searchable_pdf").iterator():
        previous = task.searchable_pdf.name or ""
        if previous and file_size(previous):
            continue
        try:
            name = store_searchable_pdf(task=OcrTask.objects.get(pk=task.pk))
        except Exception:  # one unreadable original must not stop the rest
            logger.exception("Could not build the searchable PDF of task %s", task.pk)
            failed += 1
            continue
        if OcrTask.objects.filter(pk=task.pk, searchable_pdf=previous).update(searchable_pdf=name):
            built += 1
            if previous and previous != name:
                remove_derived(previous)
        else:
            remove_derived(name)  # deleted, or built by someone else, meanwhile
    return built, failed
