"""Uploads made into tasks: checked whole, stored, queued; every refusal on record.

The upload page, the API and the request-body middleware all call these, so they share
one set of rules, one rate bucket and one audit trail.
"""

import logging
from collections.abc import Sequence
from functools import partial

from django.conf import settings
from django.contrib.auth.models import User
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.http import HttpRequest
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from audit.events import Outcome
from audit.services import record_event

from ..models import OcrTask
from ..storage import StorageWriteFailed
from ..throttling import refuse_too_frequent
from ..uploads import (
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
from .engine_choice import resolve_engine
from .queue import enqueue

logger = logging.getLogger(__name__)


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
