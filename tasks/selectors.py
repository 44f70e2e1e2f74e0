"""Read OCR tasks. Users only ever see their own."""

from django.db.models import QuerySet
from django.http import Http404

from audit.access import note_refused_resource

from .models import OcrPage, OcrTask


def task_list_for(user) -> QuerySet[OcrTask]:
    """Return the user's tasks, newest first."""
    return OcrTask.objects.filter(owner=user).order_by("-created_at")


def task_get_for(user, task_id) -> OcrTask:
    """Return one of the user's tasks, or raise Http404 (also for other users' tasks)."""
    task = task_list_for(user).filter(pk=task_id).first()
    if task is None:
        if OcrTask.objects.filter(pk=task_id).exists():
            # Someone else's: the client still gets 404 (existence is not disclosed), the
            # trail gets access_denied.
            note_refused_resource(resource_type="task", resource_id=task_id)
        raise Http404("No such task.")
    return task


def task_pages(task: OcrTask) -> QuerySet[OcrPage]:
    """Return the task's page results in page order."""
    return task.pages.order_by("index")


def task_result_document(task: OcrTask) -> dict:
    """Return the task's full result as a JSON-ready document."""
    return {
        "id": str(task.pk),
        "original_name": task.original_name,
        "status": task.status,
        "engine": task.engine,
        "language": task.language,
        "page_count": task.page_count,
        "sha256": task.sha256,
        "pages": [
            {
                "page": page.number,
                "source": page.source,
                "confidence": page.confidence,
                "width": page.width,
                "height": page.height,
                "rotation": page.rotation,
                "skew": page.skew,
                "orientation_certain": page.orientation_certain,
                "no_text_found": page.no_text_found,
                "text": page.text,
                "lines": page.lines,
            }
            for page in task_pages(task)
        ],
        "no_text_found": task.no_text_found,
        "text": task.result_text,
    }


def turned_page(task: OcrTask, *, index: int) -> OcrPage | None:
    """Return page `index` if it was turned before it was read (its image is stored)."""
    return task.pages.filter(index=index).exclude(image="").first()
