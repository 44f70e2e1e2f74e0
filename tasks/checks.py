"""Fail at start-up on OCR settings that cannot work."""

from django.conf import settings
from django.core.checks import Error, register

from .ocr.engines import available_engines


@register()
def check_ocr_settings(app_configs, **kwargs):
    errors = []
    engines = available_engines()
    if settings.OCR_DEFAULT_ENGINE not in engines:
        errors.append(
            Error(
                f"OCR_DEFAULT_ENGINE={settings.OCR_DEFAULT_ENGINE!r} is not an installed engine.",
                hint=f"Choose one of: {', '.join(engines)}.",
                id="tasks.E001",
            )
        )
    for name in (
        "OCR_MAX_FILE_BYTES",
        "OCR_MAX_FILES_PER_REQUEST",
        "OCR_MAX_PAGES",
        "OCR_MAX_PIXELS",
        "OCR_PDF_DPI",
        "OCR_PDF_MIN_DPI",
        "OCR_PDF_MAX_DPI",
        "OCR_STALE_AFTER_SECONDS",
        "OCR_MAX_ATTEMPTS",
    ):
        if getattr(settings, name) <= 0:
            errors.append(Error(f"{name} must be a positive number.", id="tasks.E002"))
    if not 0 <= settings.OCR_MIN_WORD_CONFIDENCE <= 100:
        errors.append(Error("OCR_MIN_WORD_CONFIDENCE must be between 0 and 100.", id="tasks.E006"))
    if not isinstance(settings.OCR_PAGE_PROCESSES, int) or settings.OCR_PAGE_PROCESSES < 1:
        errors.append(
            Error(
                f"OCR_PAGE_PROCESSES={settings.OCR_PAGE_PROCESSES!r} must be at least 1.",
                hint="1 reads a task's pages one after the other in the worker itself.",
                id="tasks.E005",
            )
        )
    if not 50 <= settings.OCR_PDF_DPI <= 600:
        errors.append(Error("OCR_PDF_DPI must be between 50 and 600.", id="tasks.E003"))
    low, default, high = settings.OCR_PDF_MIN_DPI, settings.OCR_PDF_DPI, settings.OCR_PDF_MAX_DPI
    if not 50 <= low <= default <= high <= 600:
        errors.append(
            Error(
                "OCR_PDF_MIN_DPI <= OCR_PDF_DPI <= OCR_PDF_MAX_DPI must hold, within 50..600.",
                hint=f"They are {low}, {default} and {high}.",
                id="tasks.E004",
            )
        )
    if not 1 <= settings.OCR_OUTPUT_JPEG_QUALITY <= 95:
        # Pillow's own advice: above 95 JPEG grows with next to no gain in quality.
        errors.append(Error("OCR_OUTPUT_JPEG_QUALITY must be between 1 and 95.", id="tasks.E007"))
    errors.extend(bulk_setting_errors())
    return errors


def bulk_setting_errors() -> list[Error]:
    """Return what is wrong with the bounds of the list's bulk actions (tasks/bulk.py)."""
    errors = []
    most = settings.OCR_BULK_MAX_TASKS
    # Django refuses a request with more fields than DATA_UPLOAD_MAX_NUMBER_FIELDS before
    # any view reads it: a bound above it would never be the one that says "choose fewer".
    fields = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
    if not isinstance(most, int) or most < 1 or (fields is not None and most > fields):
        errors.append(
            Error(
                f"OCR_BULK_MAX_TASKS={most!r} must be at least 1"
                + (f" and at most DATA_UPLOAD_MAX_NUMBER_FIELDS ({fields})." if fields else "."),
                hint="The most tasks one bulk delete, re-run or download takes; 100 by default.",
                id="tasks.E008",
            )
        )
    size = settings.OCR_BULK_DOWNLOAD_MAX_BYTES
    if not isinstance(size, int) or size < 1:
        errors.append(
            Error(
                f"OCR_BULK_DOWNLOAD_MAX_BYTES={size!r} must be a positive number of bytes.",
                hint="The most one zip of results may carry; 536870912 (512 MB) by default.",
                id="tasks.E009",
            )
        )
    return errors
