"""Build a searchable PDF of a task: each page's image under an invisible text layer.

Written with PDFium (pypdfium2), the library the OCR pipeline already reads PDFs with:
it creates documents, embeds JPEG images without re-encoding them and places text
objects in render mode 3 (invisible), so no second PDF library is needed.

- OCR pages show the page's own image, as uploaded (issue 24 item 7: the output as small
  as the input): a scanned PDF page is imported from the original unchanged (its image
  stream copied as it is), a JPEG is embedded as it is (DCTDecode), other images are
  encoded once from their frame as decoded. The page is never re-encoded straightened:
  each recognised line is set invisibly over the place its words have on the scan, turned
  with the scan's skew (tasks.pdf.placement), and a page read after a quarter turn gets
  that turn in its /Rotate. Only a PDF page that has visible text of its own (a text layer
  rejected or ignored) is drawn at RENDER_DPI instead, so its old text is not kept.
- Pages that kept their own PDF text layer are copied from the original unchanged:
  they are already searchable, and a second text layer would double every search hit.

The text uses the glyphless CID font of tasks.pdf.glyphless_font, so Chinese (RapidOCR)
and every other script survives into the text layer, not only what WinAnsi encodes.
"""

import ctypes
import io
import math
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import IO, BinaryIO, cast

import pikepdf
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from django.conf import settings
from django.core.files import File
from PIL import Image, ImageOps

from ..documents import (
    KIND_BY_CONTENT_TYPE,
    derived_name,
    open_page_image,
    remove_derived,
    render_limits,
)
from ..models import OcrPage, OcrTask, PageSource
from ..ocr.detect import DetectedType
from ..ocr.inspect import open_pdf, pdfium_lock
from ..ocr.pages import render_page_image
from ..selectors import task_pages
from ..storage import local_copy, save_whole
from .glyphless_font import ASCENT, DESCENT, EMPTY_GLYPH, MAX_CID, UNITS_PER_EM, glyphless_font
from .glyphless_font import to_unicode_cmap as build_to_unicode_cmap
from .images import shrink_images
from .pdfa import make_pdfa
from .placement import SourceFrame, line_frame, upright_rotation

# PDF pages are rendered for the download at this resolution, or at the OCR resolution if
# that is lower: 200 dpi keeps scans legible at about a third of the bytes of 300 dpi.
RENDER_DPI = 200
# Images that do not record their resolution are laid out as if scanned at this one.
DEFAULT_IMAGE_DPI = 150
# Plausible scan resolutions; anything outside (0, 1 or 72000 dpi in the wild) is ignored.
IMAGE_DPI_RANGE = (50, 2400)
POINTS_PER_INCH = 72
# The baseline sits this fraction of the font size above the bottom of a line box, so the
# font's ascent and descent cover the box exactly.
BASELINE_RAISE = -DESCENT / (ASCENT - DESCENT)
FONT_SIZE_PER_BOX_HEIGHT = UNITS_PER_EM / (ASCENT - DESCENT)


@dataclass(frozen=True)
class PlacedLine:
    """One line of text and the box it covers, in PDF points (origin bottom left)."""

    text: str
    left: float
    bottom: float
    width: float
    height: float


def layer_text(text: str) -> str:
    """Return `text` as it goes into the text layer: one line, printable characters only."""
    return "".join(char if char.isprintable() else " " for char in text).strip()


def place_lines(page: OcrPage, *, page_size: tuple[float, float]) -> list[PlacedLine]:
    """Return the page's OCR lines mapped from its pixel space onto a page of `page_size` points."""
    if page.width <= 0 or page.height <= 0:
        return []
    width_pt, height_pt = page_size
    scale_x = width_pt / page.width
    scale_y = height_pt / page.height
    placed = []
    for line in page.lines or []:
        try:
            text = layer_text(str(line["text"]))
            x0, y0, x1, y1 = (float(value) for value in line["box"])
        except (KeyError, TypeError, ValueError):
            continue  # a malformed line loses its text layer, not the whole download
        x0, x1 = sorted((max(0.0, x0), min(float(page.width), x1)))
        y0, y1 = sorted((max(0.0, y0), min(float(page.height), y1)))
        if not text or x1 <= x0 or y1 <= y0:
            continue
        placed.append(
            PlacedLine(
                text=text,
                left=x0 * scale_x,
                # Pixel rows count down from the top; PDF points count up from the bottom.
                bottom=height_pt - y1 * scale_y,
                width=(x1 - x0) * scale_x,
                height=(y1 - y0) * scale_y,
            )
        )
    return placed


class CharacterCodes:
    """Number each distinct character of a document as a CID of the glyphless font."""

    def __init__(self, texts: Iterable[str]) -> None:
        characters = sorted({char for text in texts for char in text})[:MAX_CID]
        self.cids = {char: cid for cid, char in enumerate(characters, start=1)}

    def codes(self, text: str) -> list[int]:
        return [self.cids[char] for char in text if char in self.cids]

    def to_unicode_cmap(self) -> str:
        return build_to_unicode_cmap((cid, char) for char, cid in self.cids.items())

    def cid_to_gid_map(self) -> bytes:
        # Two bytes per CID: CID 0 stays .notdef, every character is drawn with the empty glyph.
        return bytes(2) + EMPTY_GLYPH.to_bytes(2, "big") * len(self.cids)


class TextLayerFont:
    """The glyphless font loaded into one document; close it after saving the document."""

    def __init__(self, document: pdfium.PdfDocument, codes: CharacterCodes) -> None:
        font = glyphless_font()
        cid_map = codes.cid_to_gid_map()
        self.handle = pdfium_c.FPDFText_LoadCidType2Font(
            document,
            (ctypes.c_ubyte * len(font)).from_buffer_copy(font),
            len(font),
            codes.to_unicode_cmap().encode("ascii"),
            (ctypes.c_ubyte * len(cid_map)).from_buffer_copy(cid_map),
            len(cid_map),
        )
        if not self.handle:
            raise pdfium.PdfiumError("PDFium refused the text-layer font.")
        self.codes = codes

    def close(self) -> None:
        pdfium_c.FPDFFont_Close(self.handle)


def add_invisible_line(
    document: pdfium.PdfDocument, page: pdfium.PdfPage, font: TextLayerFont, line: PlacedLine
) -> None:
    """Set `line` invisibly over its box, stretched horizontally to the box's width."""
    codes = font.codes.codes(line.text)
    if not codes:
        return
    font_size = line.height * FONT_SIZE_PER_BOX_HEIGHT
    # Every glyph is one em wide, so the natural width is len(codes) * font_size.
    stretch = line.width / (len(codes) * font_size)
    matrix = (stretch, 0, 0, 1, line.left, line.bottom + BASELINE_RAISE * line.height)
    insert_invisible_text(document, page, font, codes=codes, size=font_size, matrix=matrix)


def insert_invisible_text(
    document: pdfium.PdfDocument,
    page: pdfium.PdfPage,
    font: TextLayerFont,
    *,
    codes: list[int],
    size: float,
    matrix: tuple[float, float, float, float, float, float],
) -> None:
    """Insert one invisible text object of `codes` at `size`, placed by `matrix` (a..f)."""
    text_object = pdfium_c.FPDFPageObj_CreateTextObj(document, font.handle, size)
    if not text_object:
        raise pdfium.PdfiumError("PDFium could not create a text object.")
    array = (ctypes.c_uint * len(codes))(*codes)
    if not pdfium_c.FPDFText_SetCharcodes(text_object, array, len(codes)):
        pdfium_c.FPDFPageObj_Destroy(text_object)
        raise pdfium.PdfiumError("PDFium refused the text of a line.")
    pdfium_c.FPDFTextObj_SetTextRenderMode(text_object, pdfium_c.FPDF_TEXTRENDERMODE_INVISIBLE)
    pdfium_c.FPDFPageObj_Transform(text_object, *matrix)
    # The page takes ownership of the object.
    pdfium_c.FPDFPage_InsertObject(page, text_object)


def load_picture(
    document: pdfium.PdfDocument, image: Image.Image, *, jpeg: bytes | None = None
) -> pdfium.PdfImage:
    """Return an image object showing `image`: its JPEG bytes as they are, else its pixels.

    Pixels go in losslessly, in the image's own depth (bitonal and grey stay grey); the
    encoding is chosen once the document is laid out (tasks.pdf.images: CCITT G4 or Flate
    with PNG predictors for bitonal, Flate or JPEG at OCR_OUTPUT_JPEG_QUALITY otherwise),
    since PDFium writes only JPEG or its own uncompressed stream.
    """
    picture = pdfium.PdfImage.new(document)
    if jpeg is not None:
        picture.load_jpeg(io.BytesIO(jpeg), inline=True)
        return picture
    if image.mode not in ("L", "RGB"):
        image = image.convert("L" if image.mode in ("1", "LA") else "RGB")
    bitmap = pdfium.PdfBitmap.from_pil(image)
    try:
        picture.set_bitmap(bitmap)
    finally:
        bitmap.close()
    return picture


def image_dpi(image: Image.Image) -> float:
    """Return the resolution an image frame says it was scanned at, or the default."""
    dpi = image.info.get("dpi", ())
    try:
        horizontal = float(dpi[0])
    except (TypeError, ValueError, IndexError):
        return DEFAULT_IMAGE_DPI
    low, high = IMAGE_DPI_RANGE
    return horizontal if low <= horizontal <= high else DEFAULT_IMAGE_DPI


def source_is_bitonal(*, path: str, kind: DetectedType, index: int) -> bool:
    """Return True if image upload frame `index` is black and white (mode 1)."""
    if kind.is_pdf:
        return False
    with Image.open(path) as image:
        image.seek(index)
        return image.mode == "1"


def bitonal_as_read(*, path: str, index: int, page: OcrPage) -> Image.Image:
    """Return a black and white frame turned and straightened as the reader did, still 1-bit.

    The same steps as tasks.ocr.orientation (a quarter turn, then the skew, each around the
    centre with the canvas grown), but nearest-neighbour and white-filled, so no grey appears.
    """
    with Image.open(path) as source:
        source.seek(index)
        image = ImageOps.exif_transpose(source.convert("1"))
    quarter = (360 - page.rotation) % 360
    if quarter:
        image = image.rotate(quarter, expand=True)
    if page.skew:
        image = image.rotate(-page.skew, expand=True, fillcolor=255)
    return image


def stored_page_jpeg(page: OcrPage) -> bytes:
    """Return the stored JPEG of a turned page as it is."""
    with page.image.open("rb") as handle:
        return handle.read()


def page_picture(
    *, path: str, kind: DetectedType, index: int, page: OcrPage | None = None
) -> tuple[Image.Image, float, bytes | None]:
    """Return the image shown for page `index`, its dpi and the JPEG to show as it is, if any."""
    if page is not None and page.image:
        # The page was turned before it was read: show it as read, so the text lines up.
        image = open_page_image(page)
        if source_is_bitonal(path=path, kind=kind, index=index):
            # The stored copy is a JPEG; a black and white scan stays black and white.
            bitonal = bitonal_as_read(path=path, index=index, page=page)
            if bitonal.size != image.size:
                bitonal = image.convert("L").point(lambda value: 255 if value >= 128 else 0)
            bitonal.info = image.info
            return bitonal, image_dpi(image), None
        # Its stored JPEG is shown as it is: a second JPEG generation would only lose.
        return image, image_dpi(image), stored_page_jpeg(page)
    dpi = min(settings.OCR_PDF_DPI, RENDER_DPI)
    image = render_page_image(
        path=path,
        kind=kind,
        index=index,
        dpi=dpi,
        max_pixels=settings.OCR_MAX_PIXELS,
        limits=render_limits(),
    )
    # A page too large for the pixel limit comes back at a lower resolution, said in its info.
    return image, (image.info["dpi"][0] if kind.is_pdf else image_dpi(image)), None


def add_image_page(
    document: pdfium.PdfDocument,
    *,
    position: int,
    image: Image.Image,
    dpi: float,
    jpeg: bytes | None,
    lines: Sequence[PlacedLine],
    font: TextLayerFont,
) -> None:
    """Insert a page showing `image` (or `jpeg`, its bytes) at `dpi`, `lines` invisible over it."""
    width_pt = image.width * POINTS_PER_INCH / dpi
    height_pt = image.height * POINTS_PER_INCH / dpi
    page = document.new_page(width_pt, height_pt, index=position)
    try:
        picture = load_picture(document, image, jpeg=jpeg)
        picture.set_matrix(pdfium.PdfMatrix().scale(width_pt, height_pt))
        page.insert_obj(picture)
        for line in lines:
            add_invisible_line(document, page, font, line)
        page.gen_content()
    finally:
        page.close()


QUARTER_TURN_EPSILON = 1e-4


def add_framed_line(
    document: pdfium.PdfDocument,
    page: pdfium.PdfPage,
    font: TextLayerFont,
    *,
    frame: SourceFrame,
    text: str,
    box: tuple[float, float, float, float],
) -> None:
    """Set `text` invisibly over `box` (pixels as read) on the page as uploaded."""
    codes = font.codes.codes(text)
    placed = line_frame(frame, box)
    if not codes or placed.height <= 0:
        return
    font_size = placed.height * FONT_SIZE_PER_BOX_HEIGHT
    # Text space: x runs along the box's bottom edge (every glyph one em wide, so the
    # natural width is len(codes) * font_size), y towards its top, one point per unit.
    stretch = 1 / (len(codes) * font_size)
    up_x, up_y = placed.up
    raise_by = BASELINE_RAISE * placed.height
    along_x, along_y = placed.along[0] * stretch, placed.along[1] * stretch
    if abs(along_x) < QUARTER_TURN_EPSILON * abs(along_y):
        # A line running straight up or down the page as stored (a quarter-turned scan, or
        # a page under /Rotate 90): PDFium's text extraction, Chrome's viewer's, skips a
        # text object whose matrix has a = 0, so Ctrl-F found nothing on such pages. A
        # slant of 1e-4 is far under a pixel across any line.
        along_x = math.copysign(QUARTER_TURN_EPSILON * abs(along_y), along_x or 1.0)
    matrix = (
        along_x,
        along_y,
        up_x,
        up_y,
        placed.origin[0] + up_x * raise_by,
        placed.origin[1] + up_y * raise_by,
    )
    insert_invisible_text(document, page, font, codes=codes, size=font_size, matrix=matrix)


def line_boxes(page: OcrPage) -> list[tuple[str, tuple[float, float, float, float]]]:
    """Return the page's lines as (layer text, box in pixels as read), malformed ones left out."""
    kept = []
    for line in page.lines or []:
        try:
            text = layer_text(str(line["text"]))
            x0, y0, x1, y1 = (float(value) for value in line["box"])
        except (KeyError, TypeError, ValueError):
            continue  # a malformed line loses its text layer, not the whole download
        x0, x1 = sorted((max(0.0, x0), min(float(page.width), x1)))
        y0, y1 = sorted((max(0.0, y0), min(float(page.height), y1)))
        if text and x1 > x0 and y1 > y0:
            kept.append((text, (x0, y0, x1, y1)))
    return kept


def overlay_lines(
    document: pdfium.PdfDocument,
    page: pdfium.PdfPage,
    font: TextLayerFont,
    *,
    frame: SourceFrame,
    ocr_page: OcrPage,
) -> None:
    """Put the OCR page's lines invisibly over `page` and turn the page the way it was read."""
    for text, box in line_boxes(ocr_page):
        add_framed_line(document, page, font, frame=frame, text=text, box=box)
    page.set_rotation(upright_rotation(frame))
    page.gen_content()


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


def original_jpeg(path: str, kind: DetectedType) -> tuple[bytes, float] | None:
    """Return the uploaded JPEG's bytes and dpi if PDF can show them as they are, else None."""
    if kind.extension != "jpg":
        return None
    with Image.open(path) as image:
        # DCTDecode shows the pixels as stored: an EXIF turn or CMYK would come out wrong.
        if image.mode not in ("L", "RGB") or image.getexif().get(0x0112, 1) != 1:
            return None
        dpi = image_dpi(image)
    with open(path, "rb") as handle:
        return handle.read(), dpi


def add_original_image_page(
    document: pdfium.PdfDocument,
    *,
    position: int,
    source: str,
    kind: DetectedType,
    ocr_page: OcrPage,
    font: TextLayerFont,
) -> None:
    """Insert an image upload's page showing its own frame, unstraightened, under its text."""
    passthrough = original_jpeg(source, kind)
    image: Image.Image | None = None
    if passthrough is not None:
        data, dpi = passthrough
        with Image.open(source) as probe:
            size = probe.size
    else:
        image, dpi, _ = page_picture(path=source, kind=kind, index=ocr_page.index)
        data, size = None, image.size
    width_pt, height_pt = (side * POINTS_PER_INCH / dpi for side in size)
    page = document.new_page(width_pt, height_pt, index=position)
    try:
        if data is not None:
            picture = pdfium.PdfImage.new(document)
            picture.load_jpeg(io.BytesIO(data), inline=True)
        else:
            assert image is not None
            picture = load_picture(document, image)
        picture.set_matrix(pdfium.PdfMatrix().scale(width_pt, height_pt))
        page.insert_obj(picture)
        frame = SourceFrame(
            size=(width_pt, height_pt),
            box=(0.0, 0.0, width_pt, height_pt),
            turned=ocr_page.rotation,
            skew=ocr_page.skew,
            scale=POINTS_PER_INCH / dpi,
            read_size=(ocr_page.width, ocr_page.height),
        )
        overlay_lines(document, page, font, frame=frame, ocr_page=ocr_page)
    finally:
        page.close()


def write_searchable_pdf(*, task: OcrTask, output: IO[bytes]) -> None:
    """Write the task's searchable PDF to `output`; the task must be completed.

    Raises DocumentRejected or FileNotFoundError when the original cannot be read.
    """
    # Spooled to disk: the laid-out PDF holds every page image, as the output does.
    with tempfile.TemporaryFile() as laid_out:
        lay_out_pdf(task=task, output=laid_out)
        finish_pdf(laid_out, cast(BinaryIO, output))


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


def finish_pdf(laid_out: BinaryIO, output: BinaryIO) -> None:
    """Write the PDF PDFium laid out to `output`, images shrunk and, if asked, as PDF/A-2b."""
    laid_out.seek(0)
    with pikepdf.open(laid_out) as pdf:
        shrink_images(
            pdf,
            quality=settings.OCR_OUTPUT_JPEG_QUALITY,
            keep_lossless=settings.OCR_OUTPUT_KEEP_LOSSLESS,
        )
        if settings.OCR_OUTPUT_PDFA:
            make_pdfa(pdf)
        # Object streams pack the many small objects (fonts, text pages); PDF/A-2 allows them.
        pdf.save(output, object_stream_mode=pikepdf.ObjectStreamMode.generate)


def searchable_pdf_name(task: OcrTask) -> str:
    """Return the download's file name: never the original's, even for a PDF upload."""
    stem = task.original_name.rsplit(".", 1)[0] or "result"
    return f"{stem}-searchable.pdf"


def store_searchable_pdf(*, task: OcrTask) -> str:
    """Build the task's searchable PDF and store it; return its storage name."""
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
