"""The invisible text layer of the searchable PDF: each OCR line set over its words.

A line is one text object in render mode 3 (invisible), stretched to the width of its box
and turned with the scan's skew (tasks.pdf.placement), so a search or a selection lands on
the words as they are shown. The text uses the glyphless CID font of
tasks.pdf.glyphless_font, so Chinese (RapidOCR) and every other script survives into the
text layer, not only what WinAnsi encodes: each distinct character of a document gets a
CID of its own (CharacterCodes), drawn with the one empty glyph.
"""

import ctypes
import math
from collections.abc import Iterable
from dataclasses import dataclass

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from ..models import OcrPage
from .glyphless_font import ASCENT, DESCENT, EMPTY_GLYPH, MAX_CID, UNITS_PER_EM, glyphless_font
from .glyphless_font import to_unicode_cmap as build_to_unicode_cmap
from .placement import SourceFrame, line_frame, upright_rotation

# The baseline sits this fraction of the font size above the bottom of a line box, so the
# font's ascent and descent cover the box exactly.
BASELINE_RAISE = -DESCENT / (ASCENT - DESCENT)
FONT_SIZE_PER_BOX_HEIGHT = UNITS_PER_EM / (ASCENT - DESCENT)
# The least slant given to a line that runs straight up or down the page (add_framed_line).
QUARTER_TURN_EPSILON = 1e-4


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
    return [
        PlacedLine(
            text=text,
            left=x0 * scale_x,
            # Pixel rows count down from the top; PDF points count up from the bottom.
            bottom=height_pt - y1 * scale_y,
            width=(x1 - x0) * scale_x,
            height=(y1 - y0) * scale_y,
        )
        for text, (x0, y0, x1, y1) in line_boxes(page)
    ]


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
