"""Read OCR tasks. Users only ever see their own."""

from datetime import datetime

from django.core.files.storage import default_storage
from django.db.models import QuerySet
from django.http import Http404

from .models import OcrPage, OcrTask


def task_list_for(user) -> QuerySet[OcrTask]:
    """Return the user's tasks, newest first."""
    return OcrTask.objects.filter(owner=user).order_by("-created_at")


def task_get_for(user, task_id) -> OcrTask:
    """Return one of the user's tasks, or raise Http404 (also for other users' tasks)."""
    task = task_list_for(user).filter(pk=task_id).first()
    if task is None:
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
                "text": page.text,
                "lines": page.lines,
            }
            for page in task_pages(task)
        ],
        "text": task.result_text,
    }


def cleanup_plan(*, created_before: datetime) -> list[dict]:
    """Return, per owner, how many tasks and stored files a cleanup would delete.

    Rows are {"username", "tasks", "files"}, most tasks first; a task whose file is
    already gone counts as a task but not a file, as the cleanup's statistics do.
    """
    by_owner: dict[str, dict] = {}
    old = OcrTask.objects.filter(created_at__lt=created_before)
    for username, name in old.values_list("owner__username", "file").iterator(chunk_size=2000):
        row = by_owner.setdefault(username, {"username": username, "tasks": 0, "files": 0})
        row["tasks"] += 1
        row["files"] += bool(name) and default_storage.exists(name)
    return sorted(by_owner.values(), key=lambda row: (-row["tasks"], row["username"]))
