"""The page images the worker derives from a task: each turned page as it was read.

Stored through Django's Storage API under derived/<task id>/ (tasks.documents names and
removes derived files), so that object storage is a setting. Previews serve them as stored,
and the searchable PDF shows them (tasks.pdf.searchable stores that one).
"""

from django.core.files.base import ContentFile

from ..documents import derived_name, remove_derived
from ..models import OcrPage
from ..storage import save_whole


def store_page_image_data(*, task_id, index: int, data: bytes) -> str:
    """Store a page image already encoded by encode_page_image; return its storage name."""
    name = derived_name(task_id, f"page-{index + 1:04d}.jpg")
    if not OcrPage.objects.filter(image=name).exists():
        remove_derived(name)  # left by an attempt that died before storing its page
    return save_whole(name, ContentFile(data), size=len(data))
