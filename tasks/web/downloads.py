"""A task's files as downloads: its result (text, JSON, searchable PDF, hOCR, ALTO) or
the original upload, each recorded as one ``task_download`` before the bytes go.

The task page and its API twin serve the same files through these functions, so every
single download is on the record whichever surface served it (the zip of several is
tasks.bulk's). A download refused (no such result, file missing) records nothing here;
another user's task never reaches them (a 404 from the selector, audited as
access_denied by the access middleware).
"""

from collections.abc import Iterator
from contextlib import contextmanager

from django.contrib.auth.models import User
from django.http import FileResponse, HttpResponse, JsonResponse
from django.utils.http import content_disposition_header

from ..documents import KIND_BY_CONTENT_TYPE
from ..models import OcrTask, Status
from ..pdf.searchable import searchable_pdf_name
from ..result_formats.alto import task_alto
from ..result_formats.hocr import task_hocr
from ..selectors import task_pages, task_result_document
from ..services.downloads import record_task_download
from ..storage import file_size
from ..uploads import download_name

RESULT_FORMATS = ("txt", "json", "pdf", "hocr", "alto")
# The layout formats: how each is built, served and named.
_LAYOUT_FORMATS = {
    "hocr": (task_hocr, "application/xhtml+xml; charset=utf-8", "hocr"),
    "alto": (task_alto, "application/xml; charset=utf-8", "alto.xml"),
}


class ResultUnavailable(Exception):
    """The task has no downloadable result (yet); the message says why."""


@contextmanager
def closed_on_error(handle) -> Iterator[None]:
    """Close the opened file if recording its download fails: no download, no open file."""
    try:
        yield
    except BaseException:
        handle.close()
        raise


def result_download(
    *, task: OcrTask, fmt: str, actor: User, via: str
) -> HttpResponse | FileResponse:
    """Return the task's result in ``fmt`` as an attachment, recorded as ``task_download``.

    Raise ResultUnavailable (nothing recorded) when there is no such result.
    """
    if fmt not in RESULT_FORMATS:
        raise ResultUnavailable(f"Unknown format; choose one of: {', '.join(RESULT_FORMATS)}.")
    if task.status != Status.COMPLETED:
        raise ResultUnavailable(f"No result yet: the task is {task.status}.")
    if fmt == "pdf":
        # Built and stored by the worker when the task completed: a download only reads it.
        if not task.searchable_pdf:
            raise ResultUnavailable("No searchable PDF was built for this task.")
        try:
            handle = task.searchable_pdf.open("rb")
        except FileNotFoundError:
            raise ResultUnavailable("The searchable PDF is missing from storage.") from None
        size = file_size(task.searchable_pdf.name or "") or 0
        with closed_on_error(handle):
            record_task_download(task=task, actor=actor, via=via, fmt=fmt, size=size)
        return FileResponse(
            handle,
            as_attachment=True,
            filename=searchable_pdf_name(task),
            content_type="application/pdf",
        )
    extension = fmt
    if fmt == "txt":
        response = HttpResponse(task.result_text, content_type="text/plain; charset=utf-8")
    elif fmt == "json":
        response = JsonResponse(task_result_document(task), json_dumps_params={"indent": 2})
    else:
        build, content_type, extension = _LAYOUT_FORMATS[fmt]
        response = HttpResponse(build(task=task, pages=task_pages(task)), content_type=content_type)
    stem = task.original_name.rsplit(".", 1)[0] or "result"
    response["Content-Disposition"] = content_disposition_header(
        as_attachment=True, filename=f"{stem}.{extension}"
    )
    # The bytes as built, the size the client receives (before any transfer encoding).
    record_task_download(task=task, actor=actor, via=via, fmt=fmt, size=len(response.content))
    return response


def original_download(*, task: OcrTask, actor: User, via: str) -> FileResponse:
    """Return the uploaded document itself, recorded as ``task_download`` (format original).

    Raise FileNotFoundError (nothing recorded) when it is no longer stored.
    """
    handle = task.file.open("rb")
    kind = KIND_BY_CONTENT_TYPE[task.content_type]
    size = file_size(task.file.name or "")
    with closed_on_error(handle):
        record_task_download(
            task=task,
            actor=actor,
            via=via,
            fmt="original",
            size=task.size if size is None else size,
            content_type=kind.content_type,
        )
    return FileResponse(
        handle,
        as_attachment=True,
        filename=download_name(original_name=task.original_name, kind=kind),
        content_type=kind.content_type,
    )
