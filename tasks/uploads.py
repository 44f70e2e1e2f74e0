"""Check uploaded files completely, then store the accepted ones under generated names."""

import hashlib
import os
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.functional import lazy
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from django_stubs_ext import StrOrPromise

from audit.recording.sanitize import clean_text

from .ocr.detect import HEAD_SIZE, DetectedType, detect_kind
from .ocr.inspect import DocumentRejected, inspect_document
from .ocr.resolution import PdfResolution
from .storage import FULL_ERRNOS, StorageWriteFailed, delete_file, save_file

COPY_CHUNK = 1024 * 1024

# A byte count for people ("10.8 KB"), worded when the message is shown: the page speaks
# the visitor's language while the audit trail, which reads the same message, stays English.
human_size = lazy(filesizeformat, str)


class UploadRejected(Exception):
    """An upload this service will not store; ``status`` is the HTTP status to answer."""

    def __init__(
        self,
        message: StrOrPromise,
        *,
        code: str,
        status: int = 400,
        name: str = "",
        retry_after: int | None = None,
        reason: StrOrPromise | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        # What is wrong with the file, without its name (the upload page lists it by name).
        self.reason = reason if reason is not None else message
        # Where the file was among the request's uploads (check_all sets it).
        self.position: int | None = None
        self.code = code
        self.status = status
        self.name = name
        # Seconds a 429 asks the client to wait (the Retry-After header).
        self.retry_after = retry_after

    @property
    def refusals(self) -> list["UploadRejected"]:
        """Each refusal this one stands for: itself (UploadsRejected: every refused file)."""
        return [self]


class UploadsRejected(UploadRejected):
    """Several files of one upload refused; ``errors`` says what is wrong with each.

    Answered with the refusals' status when they share one (413 when every refusal is a
    size one, 507 when storage refused them all), else with 400.
    """

    def __init__(self, errors: list[UploadRejected]) -> None:
        first = errors[0]
        statuses = {error.status for error in errors}
        status = statuses.pop() if len(statuses) == 1 else 400
        super().__init__(first.message, code=first.code, status=status, name=first.name)
        self.errors = errors

    @property
    def refusals(self) -> list[UploadRejected]:
        return list(self.errors)


@dataclass
class CheckedUpload:
    """An upload that passed every check, waiting in a private temporary file."""

    original_name: str
    temp_path: Path
    kind: DetectedType
    size: int
    sha256: str
    page_count: int

    def discard(self) -> None:
        self.temp_path.unlink(missing_ok=True)


def storage_refusal(*, name: str, error: BaseException) -> UploadRejected:
    """Return the refusal (507) of an upload that could not be written whole.

    A full disk or quota says so ("storage_full"); any other write failure is
    "storage_failed". Either way nothing of the upload was kept.
    """
    cause = error.cause if isinstance(error, StorageWriteFailed) else error
    if isinstance(cause, OSError) and cause.errno in FULL_ERRNOS:
        reason = _("the file storage is full; nothing was stored. Try again later.")
        code = "storage_full"
    else:
        reason = _("the file could not be written to storage; nothing was stored.")
        code = "storage_failed"
    return file_refusal(name=name, reason=reason, code=code, status=507)


def file_refusal(
    *, name: str, reason: StrOrPromise, code: str, status: int = 400
) -> UploadRejected:
    """Return the refusal of one named file: "<name>: <reason>"."""
    return UploadRejected(
        format_lazy(_("{name}: {reason}"), name=name, reason=reason),
        code=code,
        status=status,
        name=name,
        reason=reason,
    )


def upload_body_limit() -> int:
    """Return the largest request body an upload may have (files plus form fields)."""
    return settings.OCR_MAX_FILES_PER_REQUEST * settings.OCR_MAX_FILE_BYTES + 1024 * 1024


def display_name(raw: str | None) -> str:
    """Return the client's file name as data: last path part, escaped, bounded."""
    name = (raw or "").replace("\\", "/").rsplit("/", 1)[-1].strip() or "upload"
    return clean_text(name, max_length=255)


# Other spellings of an accepted type's extension that a download may keep.
EXTENSION_ALIASES = {"jpg": (".jpg", ".jpeg"), "tiff": (".tiff", ".tif")}


def download_name(*, original_name: str, kind: DetectedType) -> str:
    """Return the name to download an upload as: the client's, ending in its real type.

    A PNG uploaded as "page.html" downloads as "page.html.png", so the saved file opens
    as the image its bytes proved it is, never as a web page.
    """
    suffixes = EXTENSION_ALIASES.get(kind.extension, (f".{kind.extension}",))
    if original_name.lower().endswith(suffixes):
        return original_name
    return f"{original_name}.{kind.extension}"


def staging_dir() -> Path:
    """Return this host's private directory where uploads wait while they are checked.

    Local scratch space, not the storage: the checks need a real file, and a refused
    upload must never reach shared storage at all.
    """
    path = Path(settings.OCR_STAGING_DIR)
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def check_upload(upload: UploadedFile) -> CheckedUpload:
    """Copy an upload to a staging file and validate it; raise UploadRejected if unfit."""
    name = display_name(upload.name)
    limit = settings.OCR_MAX_FILE_BYTES
    if upload.size is not None and upload.size > limit:
        raise file_refusal(
            name=name,
            reason=format_lazy(
                _("file is {size}; the limit is {limit}."),
                size=human_size(upload.size),
                limit=human_size(limit),
            ),
            code="too_large",
            status=413,
        )
    if not upload.size:
        raise file_refusal(name=name, reason=_("file is empty."), code="empty")
    upload.seek(0)
    head = upload.read(HEAD_SIZE)
    kind = detect_kind(head)
    if kind is None:
        raise file_refusal(
            name=name,
            reason=_(
                "not a PNG, JPEG, TIFF, WebP, BMP or PDF file (judged by its content, not "
                "its name)."
            ),
            code="unsupported_type",
        )
    upload.seek(0)
    digest = hashlib.sha256()
    fd, temp_name = tempfile.mkstemp(dir=staging_dir(), suffix=f".{kind.extension}")
    temp_path = Path(temp_name)
    size = 0
    try:
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in upload.chunks(COPY_CHUNK):
                    size += len(chunk)
                    if size > limit:
                        raise file_refusal(
                            name=name,
                            reason=format_lazy(
                                _("file is larger than the limit of {limit}."),
                                limit=human_size(limit),
                            ),
                            code="too_large",
                            status=413,
                        )
                    digest.update(chunk)
                    out.write(chunk)
        except OSError as error:  # this host's staging disk is full, or failing
            raise storage_refusal(name=name, error=error) from error
        try:
            info = inspect_document(
                path=str(temp_path),
                kind=kind,
                max_pages=settings.OCR_MAX_PAGES,
                max_pixels=settings.OCR_MAX_PIXELS,
                resolution=PdfResolution.from_settings(),
            )
        except DocumentRejected as rejected:
            raise file_refusal(name=name, reason=rejected.message, code=rejected.code) from rejected
    except BaseException:
        temp_path.unlink(missing_ok=True)
        raise
    return CheckedUpload(
        original_name=name,
        temp_path=temp_path,
        kind=kind,
        size=size,
        sha256=digest.hexdigest(),
        page_count=info.page_count,
    )


def store_checked(checked: CheckedUpload) -> str:
    """Copy a checked upload into the storage under a generated name; return that name."""
    now = timezone.now()
    relative = f"uploads/{now:%Y}/{now:%m}/{uuid.uuid4().hex}.{checked.kind.extension}"
    name = save_file(name=relative, local_path=checked.temp_path)
    checked.discard()
    return name


def remove_stored(relative: str | None) -> int:
    """Delete a stored file; return the bytes freed (0 when it was already gone)."""
    return delete_file(relative)
