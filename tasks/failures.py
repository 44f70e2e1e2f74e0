"""Why a task failed, in the reader's language.

The worker stores the English message (the audit trail reads it too) and a code; pages
translate by the code when they are shown. Rows failed before codes were stored have
none: a stored message that is one of the fixed sentences below is translated all the
same, and any other is shown as it was stored.
"""

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

MISSING_FILE = "missing_file"
READER_DIED = "reader_died"
ENGINE_FAILED = "engine_failed"
WORKER_GONE = "worker_gone"

FAILURE_MESSAGES: dict[str, Promise] = {
    MISSING_FILE: _("The uploaded file is missing from storage."),
    READER_DIED: _(
        "The process reading a page stopped without a result (it crashed or was killed)."
    ),
    ENGINE_FAILED: _("The OCR engine failed on this document."),
    WORKER_GONE: _("The worker stopped responding too many times; retry to try again."),
    "corrupt": _("The file is damaged, or not the kind of file its content first suggests."),
    "encrypted": _("Encrypted PDFs are not supported."),
    "too_many_pixels": _("A page has more pixels than this service reads."),
    "too_many_pages": _("The document has more pages than this service reads."),
    "render_timeout": _("A page took too long to draw."),
    "render_memory": _("A page needed too much memory to draw."),
    "render_failed": _("A page could not be drawn."),
}

# What the worker stored before it stored codes, by code.
STORED_ENGLISH = {"The uploaded file is missing from storage.": MISSING_FILE}


def failure_message(*, code: str, stored: str) -> str:
    """Return the failure of a task as the reader should read it."""
    code = code or STORED_ENGLISH.get(stored, "")
    if code in FAILURE_MESSAGES:
        return str(FAILURE_MESSAGES[code])
    return stored


def original_missing(*, code: str, stored: str) -> bool:
    """Whether a failure means the uploaded file is gone (old rows by their message)."""
    return (code or STORED_ENGLISH.get(stored, "")) == MISSING_FILE
