"""The help page: what a first-time user needs to know, with this server's own limits.

Every figure comes from settings and every engine and language from what is installed,
so the page says what the upload check (tasks.uploads) and the engines will do.
"""

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.formats import number_format
from django.utils.translation import pgettext

from ..ocr.detect import ACCEPTED_TYPES
from ..ocr.engines import available_engines
from ..selectors import search_syntax
from ..uploads import human_size
from .forms import ENGINE_LABELS, LANGUAGE_LABELS

# File types as people name them; the extension where no better name is known.
TYPE_NAMES = {"png": "PNG", "jpg": "JPEG", "tiff": "TIFF", "webp": "WebP", "bmp": "BMP"}


def help_page(request: HttpRequest) -> HttpResponse:
    """Show the help page; public, so the top bar links to it for everyone."""
    engines = [
        {
            "name": ENGINE_LABELS.get(name, name),
            "default": name == settings.OCR_DEFAULT_ENGINE,
            "languages": [(code, LANGUAGE_LABELS.get(code, code)) for code in languages],
        }
        for name, languages in available_engines().items()
    ]
    context = {
        "file_types": pgettext("list separator", ", ").join(
            TYPE_NAMES.get(kind.extension, kind.extension.upper()) for kind in ACCEPTED_TYPES
        ),
        "max_file_size": human_size(settings.OCR_MAX_FILE_BYTES),
        "max_files": settings.OCR_MAX_FILES_PER_REQUEST,
        "max_pages": settings.OCR_MAX_PAGES,
        "max_pixels": number_format(settings.OCR_MAX_PIXELS, force_grouping=True),
        "engines": engines,
        "search_syntax": search_syntax(),
        "bulk_max_tasks": settings.OCR_BULK_MAX_TASKS,
        "bulk_max_size": human_size(settings.OCR_BULK_DOWNLOAD_MAX_BYTES),
    }
    return render(request, "help.html", context)
