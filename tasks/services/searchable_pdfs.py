"""Searchable PDFs built for completed tasks that lack a whole one (build_searchable_pdfs)."""

import logging

from ..documents import remove_derived
from ..models import OcrTask, Status
from ..pdf.searchable import store_searchable_pdf
from ..storage import file_size

logger = logging.getLogger(__name__)


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
