"""A stored task's document: its kind, how its pages may be drawn, its stored page images.

What the worker, the searchable PDF and the pages (previews, thumbnails) all read of a
task's upload, kept here rather than in any one of them, so none imports another for it.
The files derived from a task (turned page images, the searchable PDF) are named here too,
under derived/<task id>/, and removed here; their writers live with what builds them
(tasks.worker.outputs, tasks.pdf.searchable).
"""

import logging

from django.conf import settings
from django.core.files.storage import default_storage
from PIL import Image

from .models import OcrPage
from .ocr.detect import ACCEPTED_TYPES
from .ocr.render import RenderLimits

logger = logging.getLogger(__name__)

# The kind of a stored upload, from the content type detection gave it when it was checked.
KIND_BY_CONTENT_TYPE = {kind.content_type: kind for kind in ACCEPTED_TYPES}

# A preview or thumbnail is drawn while a web request waits: it gets this long at most.
PREVIEW_RENDER_SECONDS = 10


def render_limits(*, for_request: bool = False) -> RenderLimits:
    """Return the time and memory a child process may spend drawing one PDF page."""
    seconds = float(settings.OCR_RENDER_TIMEOUT_SECONDS)
    if for_request:
        seconds = min(seconds, PREVIEW_RENDER_SECONDS)
    return RenderLimits(seconds=seconds, memory_bytes=settings.OCR_RENDER_MEMORY_MB * 2**20)


def open_page_image(page: OcrPage) -> Image.Image:
    """Return the stored image of a turned page, decoded, with the dpi it was read at."""
    with page.image.open("rb") as handle:
        image = Image.open(handle)
        image.load()
    return image


def derived_name(task_id, leaf: str) -> str:
    """Return the storage name of one of a task's derived files."""
    return f"derived/{task_id}/{leaf}"


def remove_derived(name: str | None) -> None:
    """Delete one derived file; a file already gone is not an error."""
    if not name:
        return
    try:
        default_storage.delete(name)
    except OSError:
        # Cleanup must not undo the delete that asked for it; the log says what is left.
        logger.warning("Could not delete derived file %s", name, exc_info=True)
