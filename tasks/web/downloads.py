"""A completed task's result as a download: text, JSON, searchable PDF, hOCR or ALTO.

The task page and its API twin serve the same files through this one function.
"""

from django.http import FileResponse, HttpResponse, JsonResponse
from django.utils.http import content_disposition_header

from ..models import OcrTask, Status
from ..pdf.searchable import searchable_pdf_name
from ..result_formats.alto import task_alto
from ..result_formats.hocr import task_hocr
from ..selectors import task_pages, task_result_document

RESULT_FORMATS = ("txt", "json", "pdf", "hocr", "alto")
# The layout formats: how each is built, served and named.
_LAYOUT_FORMATS = {
    "hocr": (task_hocr, "application/xhtml+xml; charset=utf-8", "hocr"),
    "alto": (task_alto, "application/xml; charset=utf-8", "alto.xml"),
}


class ResultUnavailable(Exception):
    """The task has no downloadable result (yet); the message says why."""


def result_download(*, task: OcrTask, fmt: str) -> HttpResponse | FileResponse:
    """Return the task's result in ``fmt`` as an attachment, or raise ResultUnavailable."""
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
    return response
