"""Files the worker derives from a task: turned page images and the searchable PDF.

Stored through Django's Storage API next to nothing else, under derived/<task id>/, so that
object storage is a setting. Downloads and previews serve them as stored.
"""

import logging
import tempfile

from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from ..models import OcrPage, OcrTask
from ..storage import save_whole

logger = logging.getLogger(__name__)


def derived_name(task_id, leaf: str) -> str:
    """Return the storage name of one of a task's derived files."""
    return f"derived/{task_id}/{leaf}"


def store_page_image_data(*, task_id, index: int, data: bytes) -> str:
    """Store a page image already encoded by encode_page_image; return its storage name."""
    name = derived_name(task_id, f"page-{index + 1:04d}.jpg")
    if not OcrPage.objects.filter(image=name).exists():
        remove_derived(name)  # left by an attempt that died before storing its page
    return save_whole(name, ContentFile(data), size=len(data))


def store_searchable_pdf(*, task: OcrTask) -> str:
    """Build the task's searchable PDF and store it; return its storage name."""
    from ..pdf.searchable import write_searchable_pdf

    # Spooled to disk past a few megabytes, so a 50-page scan is not held in memory twice.
    with tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024) as handle:
        write_searchable_pdf(task=task, output=handle)
        size = handle.tell()
        if not size:
            raise ValueError(f"The searchable PDF of task {task.pk} came out empty.")
        handle.seek(0)
        name = derived_name(task.pk, "searchable.pdf")
        if not OcrTask.objects.filter(searchable_pdf=name).exists():
            remove_derived(name)  # left by an attempt that died before it finished
        # Whole or not at all: an empty or cut-short PDF is never stored as the result.
        return save_whole(name, File(handle), size=size)


def remove_derived(name: str | None) -> None:
    """Delete one derived file; a file already gone is not an error."""
    if not name:
        return
    try:
        default_storage.delete(name)
    except OSError:
        # Cleanup must not undo the delete that asked for it; the log says what is left.
        logger.warning("Could not delete derived file %s", name, exc_info=True)
