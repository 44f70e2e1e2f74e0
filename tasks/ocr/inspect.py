"""Validate an uploaded document completely, so that a rejected upload is never stored."""

import logging
import os
import re
import struct
import threading
import warnings
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from django.utils.functional import lazy
from django.utils.text import format_lazy
from django.utils.translation import get_language, gettext
from django.utils.translation import gettext_lazy as _
from django_stubs_ext import StrOrPromise
from PIL import Image

from tasks.ocr.detect import HEAD_SIZE, DetectedType, detect_kind
from tasks.ocr.resolution import Oversized, PdfResolution, oversized

# PDFium is not thread-safe and pypdfium2 does not serialise calls, so every use of it in this
# process (opening, reading, rendering, closing) happens while holding this lock.
pdfium_lock = threading.RLock()

# Pillow reads its decompression-bomb limit from a module global. It is swapped for a per-call
# limit only while this lock is held, and restored before the lock is released.
_pillow_limit_lock = threading.Lock()

# Acrobat requires the end-of-file marker within the last 1024 bytes; a PDF without it was cut
# short, and PDFium's repair would otherwise quietly serve whatever pages survived.
_PDF_EOF_WINDOW = 1024

# What Pillow's decoders raise on damaged data besides OSError.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error)


logger = logging.getLogger(__name__)


def corrupt(detail) -> StrOrPromise:
    """Return the message for a file that cannot be read; ``detail`` says where."""
    return format_lazy(_("File is truncated or corrupt: {detail}"), detail=detail)


# Pillow's commonest complaints (by how they start), said in the reader's language.
_PILLOW_DETAILS: tuple[tuple[str, StrOrPromise], ...] = (
    ("image file is truncated", _("the image data ends too early")),
    ("truncated", _("the image data ends too early")),
    ("broken data stream", _("the image data is damaged")),
    ("could not create decoder object", _("the image data cannot be decoded")),
    ("cannot load this image", _("the image data cannot be decoded")),
)
_PDFIUM_DETAILS: dict[int, StrOrPromise] = {
    pdfium_c.FPDF_ERR_FORMAT: _("the PDF's structure cannot be read"),
    pdfium_c.FPDF_ERR_FILE: _("the file cannot be opened as a PDF"),
}


def _english_only(raw: str) -> str:
    # Unknown wording stays as the library said it for English readers (it helps them
    # report it); other readers get a sentence in their own language, not English.
    language = get_language()
    if language is None or language.split("-")[0] == "en":
        return raw
    return gettext("the data cannot be decoded")


_english_only_lazy = lazy(_english_only, str)


def decode_failure(exc: BaseException) -> StrOrPromise:
    """Return why a decoder gave up on a file, in the reader's language.

    Pillow and PDFium word their errors in English, and a Chinese refusal ended in
    "image file is truncated"; the library's own words go to the log.
    """
    raw = str(exc)
    logger.info("Refused as corrupt: %s: %s", type(exc).__name__, raw)
    if isinstance(exc, pdfium.PdfiumError):
        return _PDFIUM_DETAILS.get(exc.err_code, _("the PDF cannot be read"))
    if isinstance(exc, zlib.error):
        return _("its compressed data is damaged")
    if isinstance(exc, (EOFError, struct.error)):
        return _("the image data ends too early")
    lowered = raw.lower()
    for start, detail in _PILLOW_DETAILS:
        if lowered.startswith(start):
            return detail
    return _english_only_lazy(raw)


class DocumentRejected(Exception):
    """Raised when an upload is not a document this service will store and read."""

    def __init__(self, message: StrOrPromise, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def undecodable(exc: BaseException) -> DocumentRejected:
    """Return the refusal of a file its decoder gave up on, said as decode_failure says."""
    return DocumentRejected(corrupt(decode_failure(exc)), "corrupt")


@dataclass(frozen=True)
class DocumentInfo:
    """What validation learned about an accepted document."""

    page_count: int


@contextmanager
def pillow_pixel_limit(max_pixels: int) -> Iterator[None]:
    """Make Pillow refuse images over `max_pixels` inside the block, by raising, not warning."""
    with _pillow_limit_lock:
        previous = Image.MAX_IMAGE_PIXELS
        # Never None: that would switch the decompression-bomb check off altogether.
        Image.MAX_IMAGE_PIXELS = max_pixels
        try:
            with warnings.catch_warnings():
                # Between 1x and 2x the limit Pillow only warns; here that is a refusal too.
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                yield
        finally:
            Image.MAX_IMAGE_PIXELS = previous


def _too_many_pixels(
    *, label: StrOrPromise, width: int, height: int, max_pixels: int
) -> DocumentRejected:
    return DocumentRejected(
        format_lazy(
            _("{label} is {size} pixels; the limit is {limit} pixels."),
            label=label,
            size=f"{width}\N{MULTIPLICATION SIGN}{height}",
            limit=max_pixels,
        ),
        "too_many_pixels",
    )


def _frame_label(*, kind: DetectedType, index: int) -> StrOrPromise:
    return (
        format_lazy(_("Page {number}"), number=index + 1)
        if kind.extension == "tiff"
        else _("Image")
    )


def _pillow_refusal(exc: Exception, *, max_pixels: int) -> DocumentRejected:
    # Pillow refuses before handing us the image, so its message is where the size is.
    found = re.search(r"\((\d+) pixels\)", str(exc))
    if found:
        message = format_lazy(
            _("Image has {pixels} pixels; the limit is {limit} pixels."),
            pixels=found.group(1),
            limit=max_pixels,
        )
    else:
        message = format_lazy(
            _("Image is too large; the limit is {limit} pixels."), limit=max_pixels
        )
    return DocumentRejected(message, "too_many_pixels")


@contextmanager
def open_image(*, path: str, kind: DetectedType, max_pixels: int) -> Iterator[Image.Image]:
    """Open `path` with exactly the Pillow decoder its bytes announced; use under a pixel limit."""
    pillow_format = kind.pillow_format
    if pillow_format is None:
        raise ValueError(f"{kind.content_type} is not an image type")
    # Opened here, outside the error mapping: a missing file is not a corrupt upload.
    with open(path, "rb") as file:
        try:
            image = Image.open(file, formats=[pillow_format])
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise _pillow_refusal(exc, max_pixels=max_pixels) from exc
        except Image.UnidentifiedImageError as exc:
            raise DocumentRejected(
                corrupt(
                    format_lazy(_("not a readable {format} image"), format=kind.extension.upper())
                ),
                "corrupt",
            ) from exc
        except _DECODE_ERRORS as exc:
            raise undecodable(exc) from exc
        with image:
            yield image


def image_frame_count(image: Image.Image, *, kind: DetectedType) -> int:
    """Return how many pages an opened image holds: TIFF frames, one for everything else."""
    # Animated PNG/WebP frames are an animation, not pages; only TIFF is a paged format.
    return getattr(image, "n_frames", 1) if kind.extension == "tiff" else 1


def load_frame(image: Image.Image, *, kind: DetectedType, index: int, max_pixels: int) -> None:
    """Select frame `index`, check its size and decode all of it; call under a pixel limit."""
    try:
        if index:
            image.seek(index)
        width, height = image.size
        if width * height > max_pixels:
            raise _too_many_pixels(
                label=_frame_label(kind=kind, index=index),
                width=width,
                height=height,
                max_pixels=max_pixels,
            )
        # A full decode is what finds truncated and corrupt data; the header alone looks fine.
        image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _pillow_refusal(exc, max_pixels=max_pixels) from exc
    except _DECODE_ERRORS as exc:
        raise undecodable(exc) from exc


def _inspect_image(
    *, path: str, kind: DetectedType, max_pages: int, max_pixels: int
) -> DocumentInfo:
    with (
        pillow_pixel_limit(max_pixels),
        open_image(path=path, kind=kind, max_pixels=max_pixels) as image,
    ):
        try:
            page_count = image_frame_count(image, kind=kind)
        except _DECODE_ERRORS as exc:
            raise undecodable(exc) from exc
        if page_count > max_pages:
            raise DocumentRejected(
                format_lazy(
                    _("TIFF has {count} pages; the limit is {limit}."),
                    count=page_count,
                    limit=max_pages,
                ),
                "too_many_pages",
            )
        for index in range(page_count):
            load_frame(image, kind=kind, index=index, max_pixels=max_pixels)
    return DocumentInfo(page_count=page_count)


def _rejected_pdf(exc: pdfium.PdfiumError) -> DocumentRejected:
    if exc.err_code in (pdfium_c.FPDF_ERR_PASSWORD, pdfium_c.FPDF_ERR_SECURITY):
        return DocumentRejected(_("Encrypted PDFs are not supported."), "encrypted")
    return undecodable(exc)


@contextmanager
def open_pdf(path: str) -> Iterator[pdfium.PdfDocument]:
    """Open the PDF at `path` holding the PDFium lock; refuse encrypted or unreadable files."""
    with pdfium_lock:
        try:
            document = pdfium.PdfDocument(path)
        except pdfium.PdfiumError as exc:
            raise _rejected_pdf(exc) from exc
        try:
            # An owner-password-only PDF opens without a password but is still encrypted;
            # we refuse it too rather than read around the author's restrictions.
            if pdfium_c.FPDF_GetSecurityHandlerRevision(document) != -1:
                raise DocumentRejected(_("Encrypted PDFs are not supported."), "encrypted")
            yield document
        finally:
            document.close()


def load_pdf_page(document: pdfium.PdfDocument, index: int) -> pdfium.PdfPage:
    """Return page `index`, parsed; call while holding the PDFium lock."""
    try:
        return document[index]
    except pdfium.PdfiumError as exc:
        raise DocumentRejected(
            corrupt(format_lazy(_("page {number} cannot be read"), number=index + 1)), "corrupt"
        ) from exc


def pdf_page_points(document: pdfium.PdfDocument, index: int) -> tuple[float, float]:
    """Return page `index`'s size in points from the page tree, without loading the page.

    Loading a page parses its whole content stream, and a small file can inflate to
    hundreds of megabytes of drawing operators; the page tree alone says how big it is.
    """
    try:
        return document.get_page_size(index)
    except pdfium.PdfiumError as exc:
        raise DocumentRejected(
            corrupt(format_lazy(_("page {number} cannot be read"), number=index + 1)), "corrupt"
        ) from exc


def check_pdf_page_area(*, width_pt: float, height_pt: float, index: int) -> None:
    """Refuse a page with no area as corrupt."""
    if width_pt <= 0 or height_pt <= 0:
        raise DocumentRejected(
            corrupt(format_lazy(_("page {number} has no area"), number=index + 1)), "corrupt"
        )


def _has_pdf_end_marker(path: str) -> bool:
    with open(path, "rb") as file:
        file.seek(max(0, os.path.getsize(path) - _PDF_EOF_WINDOW))
        return b"%%EOF" in file.read()


def _inspect_pdf(*, path: str, max_pages: int, resolution: PdfResolution) -> DocumentInfo:
    if not _has_pdf_end_marker(path):
        raise DocumentRejected(corrupt(_("the PDF end-of-file marker is missing")), "corrupt")
    first_oversized: tuple[int, Oversized] | None = None
    readable = 0
    with open_pdf(path) as document:
        page_count = len(document)
        if page_count > max_pages:
            raise DocumentRejected(
                format_lazy(
                    _("PDF has {count} pages; the limit is {limit}."),
                    count=page_count,
                    limit=max_pages,
                ),
                "too_many_pages",
            )
        for index in range(page_count):
            # Parse only, never a page's content: what a page draws (and how long that
            # takes) is the worker's business, where a bad page fails its task cleanly.
            width_pt, height_pt = pdf_page_points(document, index)
            check_pdf_page_area(width_pt=width_pt, height_pt=height_pt, index=index)
            # The worker's rule (resolution.plan_pdf_render): a page too large for the pixel
            # limit is read at a lower resolution, or, below the minimum, marked unread.
            too_large = oversized(width_pt=width_pt, height_pt=height_pt, resolution=resolution)
            if too_large is None:
                readable += 1
            elif first_oversized is None:
                first_oversized = (index, too_large)
    if not readable and first_oversized is not None:
        # Only a document none of whose pages can be read is refused: it could yield nothing.
        index, too_large = first_oversized
        raise DocumentRejected(
            format_lazy(
                _(
                    "Page {number} is {inches} in: even at {dpi} dpi it is {size} pixels; "
                    "the limit is {limit} pixels."
                ),
                number=index + 1,
                inches=too_large.inches,
                dpi=too_large.min_dpi,
                size=too_large.size,
                limit=too_large.max_pixels,
            ),
            "too_many_pixels",
        )
    return DocumentInfo(page_count=page_count)


def inspect_document(
    *,
    path: str,
    kind: DetectedType,
    max_pages: int,
    max_pixels: int,
    resolution: PdfResolution | None = None,
) -> DocumentInfo:
    """Return the page count of the document at `path`, or raise DocumentRejected.

    Images are fully decoded (bounded by `max_pixels`), so truncated files, decompression
    bombs and oversized images are refused here rather than in the OCR worker. A PDF is
    parsed, not drawn: its page tree and each page's size, never a content stream, so
    the check takes the same milliseconds whatever a page contains. A PDF is refused for
    its size only when not one of its pages fits `max_pixels` even at the minimum
    resolution of `resolution`; larger pages are read at a lower resolution.
    """
    with open(path, "rb") as file:
        head = file.read(HEAD_SIZE)
    # The file on disk must still be what the upload's first bytes said it was.
    if detect_kind(head) != kind:
        raise DocumentRejected(
            _("Only PNG, JPEG, TIFF, WebP, BMP and PDF files are accepted."), "unsupported_type"
        )
    if kind.is_pdf:
        bounds = replace(resolution or PdfResolution(), max_pixels=max_pixels)
        return _inspect_pdf(path=path, max_pages=max_pages, resolution=bounds)
    return _inspect_image(path=path, kind=kind, max_pages=max_pages, max_pixels=max_pixels)
