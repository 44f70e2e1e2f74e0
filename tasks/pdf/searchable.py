"""Build a searchable PDF of a task: each page's image under an invisible text layer.

Written with PDFium (pypdfium2), the library the OCR pipeline already reads PDFs with:
it creates documents, embeds JPEG images without re-encoding them and places text
objects in render mode 3 (invisible), so no second PDF library is needed.

- OCR pages show the page's own image, as uploaded (so the output stays as small
  as the input): a scanned PDF page is imported from the original unchanged (its image
  stream copied as it is), a JPEG is embedded as it is (DCTDecode), other images are
  encoded once from their frame as decoded. The page is never re-encoded straightened:
  each recognised line is set invisibly over the place its words have on the scan, turned
  with the scan's skew (tasks.pdf.placement), and a page read after a quarter turn gets
  that turn in its /Rotate. Only a PDF page that has visible text of its own (a text layer
  rejected or ignored) is drawn at RENDER_DPI instead, so its old text is not kept.
- Pages that kept their own PDF text layer are copied from the original unchanged:
  they are already searchable, and a second text layer would double every search hit.

Each page's invisible text layer is tasks.pdf.text_layer's, the image it shows
tasks.pdf.pictures'; this module decides what each page becomes, lays the document out
and stores it.
"""

import tempfile
from collections.abc import Mapping
from typing import IO, BinaryIO, cast

import pikepdf
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from django.conf import settings
from django.core.files import File

from ..documents import KIND_BY_CONTENT_TYPE, derived_name, remove_derived
from ..models import OcrPage, OcrTask, PageSource
from ..ocr.inspect import open_pdf, pdfium_lock
from ..selectors import task_pages
from ..storage import local_copy, save_whole
from .images import Encoded, shrink_images
from .pdfa import make_pdfa
from .pictures import POINTS_PER_INCH, add_image_page, add_original_image_page, page_picture
from .placement import SourceFrame
from .text_layer import CharacterCodes, TextLayerFont, layer_text, overlay_lines, place_lines


def write_searchable_pdf(
    *, task: OcrTask, output: IO[bytes], prepared: Mapping[str, Encoded | None] | None = None
) -> None:
    """Write the task's searchable PDF to `output`; the task must be completed.

    `prepared`: image encodings chosen while the pages were read (tasks.pdf.prepared_images).
    Raises DocumentRejected or FileNotFoundError when the original cannot be read.
    """
    # Spooled to disk: the laid-out PDF holds every page image, as the output does.
    with tempfile.TemporaryFile() as laid_out:
        lay_out_pdf(task=task, output=laid_out)
        finish_pdf(laid_out, cast(BinaryIO, output), prepared=prepared)


def lay_out_pdf(*, task: OcrTask, output: IO[bytes]) -> None:
    """Write the task's pages with their text layers, as PDFium lays them out, to `output`."""
    kind = KIND_BY_CONTENT_TYPE[task.content_type]
    pages = {page.index: page for page in task_pages(task)}
    copied = sorted(
        index
        for index, page in pages.items()
        if kind.is_pdf and page.source == PageSource.TEXT_LAYER
    )
    codes = CharacterCodes(
        layer_text(str(line.get("text", "")))
        for index, page in pages.items()
        if index not in copied
        for line in page.lines or []
        if isinstance(line, dict)
    )
    # The original is read through the storage (PDFium and Pillow get a local path), and
    # PDFium is not thread-safe: the whole build, reading and writing, holds its lock.
    with local_copy(task.file.name) as source, pdfium_lock:
        reused = reusable_pdf_pages(source, pages) if kind.is_pdf else []
        imported = sorted({*copied, *reused})
        document = pdfium.PdfDocument.new()
        font = None
        try:
            font = TextLayerFont(document, codes)
            if imported:
                with open_pdf(source) as original:
                    # One import for all of them, so shared fonts and images are copied once.
                    document.import_pages(original, pages=imported, index=0)
            # Pages go in in order: page i is inserted once every page before it is in place.
            for index in range(task.page_count):
                page = pages.get(index)
                if index in reused and page is not None:
                    shown = document[index]
                    try:
                        frame = pdf_frame(shown, page)
                        overlay_lines(document, shown, font, frame=frame, ocr_page=page)
                    finally:
                        shown.close()
                    continue
                if index in imported:
                    continue
                # An image page read after a quarter turn is drawn upright, as before: its
                # text layer over the original frame under /Rotate came out empty (the
                # sideways scan of tasks/tests/test_scan_results.py).
                if (
                    page is not None
                    and not kind.is_pdf
                    and page.width
                    and page.height
                    and page.rotation == 0
                ):
                    add_original_image_page(
                        document, position=index, source=source, kind=kind, ocr_page=page, font=font
                    )
                    continue
                image, dpi, jpeg = page_picture(path=source, kind=kind, index=index, page=page)
                size = (image.width * POINTS_PER_INCH / dpi, image.height * POINTS_PER_INCH / dpi)
                add_image_page(
                    document,
                    position=index,
                    image=image,
                    dpi=dpi,
                    jpeg=jpeg,
                    lines=place_lines(page, page_size=size) if page else [],
                    font=font,
                )
            document.save(output)
        finally:
            if font is not None:
                font.close()
            document.close()


def finish_pdf(
    laid_out: BinaryIO,
    output: BinaryIO,
    *,
    prepared: Mapping[str, Encoded | None] | None = None,
) -> None:
    """Write the PDF PDFium laid out to `output`, images shrunk and, if asked, as PDF/A-2b."""
    laid_out.seek(0)
    with pikepdf.open(laid_out) as pdf:
        shrink_images(
            pdf,
            quality=settings.OCR_OUTPUT_JPEG_QUALITY,
            keep_lossless=settings.OCR_OUTPUT_KEEP_LOSSLESS,
            prepared=prepared,
        )
        if settings.OCR_OUTPUT_PDFA:
            make_pdfa(pdf)
        # Object streams pack the many small objects (fonts, text pages); PDF/A-2 allows them.
        pdf.save(output, object_stream_mode=pikepdf.ObjectStreamMode.generate)


def reusable_pdf_pages(source: str, pages: dict[int, OcrPage]) -> list[int]:
    """Return the OCR pages whose source page can be shown as it is: scans without text."""
    reusable = []
    with open_pdf(source) as original:
        for index, page in pages.items():
            if page.source != PageSource.OCR or page.width <= 0 or page.height <= 0:
                continue
            pdf_page = original[index]
            try:
                if not has_text_objects(pdf_page):
                    reusable.append(index)
            finally:
                pdf_page.close()
    return sorted(reusable)


def has_text_objects(page: pdfium.PdfPage) -> bool:
    """Return True if the page draws any text of its own (a text layer, visible or not)."""
    return any(True for _ in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_TEXT]))


def pdf_frame(page: pdfium.PdfPage, ocr_page: OcrPage) -> SourceFrame:
    """Return how the OCR page's pixels lie on the PDF page they were rendered from."""
    width_pt, height_pt = page.get_size()
    # The page was rendered at ocr_page.dpi; a page read before dpi was stored, at the default.
    scale = POINTS_PER_INCH / (ocr_page.dpi or settings.OCR_PDF_DPI)
    return SourceFrame(
        size=(width_pt, height_pt),
        box=page.get_cropbox(),
        rotation=page.get_rotation(),
        turned=ocr_page.rotation,
        skew=ocr_page.skew,
        scale=scale,
        read_size=(ocr_page.width, ocr_page.height),
    )


def searchable_pdf_name(task: OcrTask) -> str:
    """Return the download's file name: never the original's, even for a PDF upload."""
    stem = task.original_name.rsplit(".", 1)[0] or "result"
    return f"{stem}-searchable.pdf"


def store_searchable_pdf(
    *, task: OcrTask, prepared: Mapping[str, Encoded | None] | None = None
) -> str:
    """Build the task's searchable PDF and store it; return its storage name."""
    # Spooled to disk past a few megabytes, so a 50-page scan is not held in memory twice.
    with tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024) as handle:
        write_searchable_pdf(task=task, output=handle, prepared=prepared)
        size = handle.tell()
        if not size:
            raise ValueError(f"The searchable PDF of task {task.pk} came out empty.")
        handle.seek(0)
        name = derived_name(task.pk, "searchable.pdf")
        if not OcrTask.objects.filter(searchable_pdf=name).exists():
            remove_derived(name)  # left by an attempt that died before it finished
        # Whole or not at all: an empty or cut-short PDF is never stored as the result.
        return save_whole(name, File(handle), size=size)
