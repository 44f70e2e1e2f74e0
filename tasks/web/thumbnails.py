"""First-page thumbnails for the task list: made once on first view, kept in storage."""

import io
import logging

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image

from ..documents import KIND_BY_CONTENT_TYPE, open_page_image, render_limits
from ..models import OcrTask
from ..ocr.inspect import DocumentRejected
from ..ocr.pages import render_page_image
from ..selectors import turned_page
from ..storage import StorageWriteFailed, local_copy, save_whole

logger = logging.getLogger(__name__)

THUMBNAIL_DPI = 40
THUMBNAIL_SIDE = 96


class ThumbnailUnavailable(Exception):
    """The document's first page cannot be drawn (file gone, or refused when rendered)."""


def thumbnail_name(task_id) -> str:
    """Return the storage name of a task's thumbnail: from its id, never its file name."""
    return f"thumbnails/{task_id}.png"


def render_thumbnail(task: OcrTask) -> bytes:
    """Return the first page of the task's document as a small PNG, upright.

    A first page that was turned before it was read is drawn from its stored upright
    image, as the detail page shows it; the original scan would be sideways.
    """
    turned = turned_page(task, index=0)
    if turned is not None:
        try:
            image = open_page_image(turned)
        except FileNotFoundError as error:
            raise ThumbnailUnavailable(str(task.pk)) from error
        return small_png(image)
    try:
        # Through the storage: an object store hands out no local path.
        with local_copy(task.file.name) as path:
            image = render_page_image(
                path=path,
                kind=KIND_BY_CONTENT_TYPE[task.content_type],
                index=0,
                dpi=THUMBNAIL_DPI,
                max_pixels=settings.OCR_MAX_PIXELS,
                limits=render_limits(for_request=True),
            )
    except (DocumentRejected, FileNotFoundError) as error:
        raise ThumbnailUnavailable(str(task.pk)) from error
    return small_png(image)


def small_png(image: Image.Image) -> bytes:
    image.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def task_thumbnail(*, task: OcrTask) -> bytes:
    """Return the task's thumbnail, drawing and storing it the first time it is asked for."""
    name = thumbnail_name(task.pk)
    if default_storage.exists(name):
        with default_storage.open(name, "rb") as handle:
            return handle.read()
    data = render_thumbnail(task)
    if task.is_active:
        # Not kept yet: whether the first page is turned is known once it has been read.
        return data
    try:
        saved = save_whole(name, ContentFile(data), size=len(data))
    except StorageWriteFailed:
        # A full storage costs the cache, not the picture: drawn again next time.
        logger.warning("Could not store the thumbnail of task %s", task.pk, exc_info=True)
        return data
    if saved != name:
        # Another request stored it first; keep one copy.
        default_storage.delete(saved)
    return data


def remove_thumbnail(task_id) -> None:
    """Delete a task's thumbnail, if one was ever made."""
    default_storage.delete(thumbnail_name(task_id))
