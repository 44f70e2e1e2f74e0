"""Choose the resolution a PDF page is rendered at for OCR.

A scanned page is rendered at the resolution of its own images: a 25 by 50 inch poster
holding one 8 MP photo has 82 pixels per inch of detail, and 300 dpi would only invent
110 million pixels of interpolation. The choice is bounded by OCR_PDF_MIN_DPI and
OCR_PDF_MAX_DPI; pages with no scanned image (vector text) use OCR_PDF_DPI. The pixel
limit (OCR_MAX_PIXELS) lowers the resolution of a page that would not fit, down to the
minimum; a page that does not fit even there is not read, and says why.

One rule, one place: the upload check and the worker (`plan_pdf_render`) both ask
`oversized` whether a page can be read at all.
"""

import math
from dataclasses import dataclass

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from django.conf import settings

# Images smaller than this share of the page are logos, stamps and icons: their resolution
# says nothing about the scan's.
_MIN_IMAGE_SHARE = 0.01
# A page is a scan when its (non-tiny) images together cover at least this share of it.
_SCAN_COVERAGE = 0.5
# Form XObjects nest; PDFium's own default depth for walking them.
_MAX_FORM_DEPTH = 15

POINTS_PER_INCH = 72


@dataclass(frozen=True, kw_only=True)
class PdfResolution:
    """The bounds a PDF page's render resolution is chosen within."""

    default_dpi: int = 300
    min_dpi: int = 150
    max_dpi: int = 400
    max_pixels: int = 50_000_000

    @classmethod
    def from_settings(cls) -> "PdfResolution":
        """Return the bounds configured by OCR_PDF_DPI, OCR_PDF_MIN_DPI, OCR_PDF_MAX_DPI."""
        return cls(
            default_dpi=settings.OCR_PDF_DPI,
            min_dpi=settings.OCR_PDF_MIN_DPI,
            max_dpi=settings.OCR_PDF_MAX_DPI,
            max_pixels=settings.OCR_MAX_PIXELS,
        )


@dataclass(frozen=True, kw_only=True)
class RenderPlan:
    """How one PDF page will be rendered: at `dpi`, or (dpi None) not at all."""

    dpi: int | None
    # What the page's content asked for before the pixel limit had its say.
    wanted_dpi: int
    # Pixel size at `dpi`; at the minimum resolution for a page that is not read.
    size: tuple[int, int]
    # English, for the page's result: why the resolution is lower, or why it is not read.
    note: str = ""
    # The effective resolution of the page's scanned images, None for a page without any.
    image_dpi: float | None = None

    @property
    def readable(self) -> bool:
        return self.dpi is not None


def render_size(*, width_pt: float, height_pt: float, dpi: int) -> tuple[int, int]:
    """Return the pixel size of a PDF page of this size in points rendered at `dpi`."""
    scale = dpi / POINTS_PER_INCH
    return math.ceil(width_pt * scale), math.ceil(height_pt * scale)


def _largest_fitting_dpi(*, width_pt: float, height_pt: float, max_pixels: int) -> int:
    """Return the largest whole dpi at which the page has at most `max_pixels` pixels."""
    area_in = (width_pt / POINTS_PER_INCH) * (height_pt / POINTS_PER_INCH)
    if area_in <= 0:
        return 0
    dpi = math.floor(math.sqrt(max_pixels / area_in))
    # Rendering rounds each side up, so the estimate may be a pixel row too generous.
    while dpi > 0:
        width, height = render_size(width_pt=width_pt, height_pt=height_pt, dpi=dpi)
        if width * height <= max_pixels:
            return dpi
        dpi -= 1
    return 0


def _size_text(width: int, height: int) -> str:
    return f"{width}\N{MULTIPLICATION SIGN}{height}"


@dataclass(frozen=True, kw_only=True)
class Oversized:
    """A page that does not fit the pixel limit even at the minimum resolution."""

    inches: str
    min_dpi: int
    size: str
    max_pixels: int

    @property
    def note(self) -> str:
        """Return the page result's note, in English like the task's error."""
        return (
            f"Not read: the page is {self.inches} in; even at the minimum of {self.min_dpi} "
            f"dpi it is {self.size} pixels, over the limit of {self.max_pixels} pixels."
        )


def oversized(*, width_pt: float, height_pt: float, resolution: PdfResolution) -> Oversized | None:
    """Return why a page of this size cannot be read at all, or None if it can."""
    fitting = _largest_fitting_dpi(
        width_pt=width_pt, height_pt=height_pt, max_pixels=resolution.max_pixels
    )
    if fitting >= resolution.min_dpi:
        return None
    width, height = render_size(width_pt=width_pt, height_pt=height_pt, dpi=resolution.min_dpi)
    return Oversized(
        inches=(
            f"{round(width_pt / POINTS_PER_INCH, 1):g}\N{MULTIPLICATION SIGN}"
            f"{round(height_pt / POINTS_PER_INCH, 1):g}"
        ),
        min_dpi=resolution.min_dpi,
        size=_size_text(width, height),
        max_pixels=resolution.max_pixels,
    )


def _image_placements(
    page: pdfium.PdfPage,
) -> list[tuple[tuple[int, int], pdfium.PdfMatrix]]:
    """Return (pixel size, matrix onto the page) of every image drawn on the page."""
    found: list[tuple[tuple[int, int], pdfium.PdfMatrix]] = []

    def walk(parent, *, is_form: bool, onto_page: pdfium.PdfMatrix, depth: int) -> None:
        count = (
            pdfium_c.FPDFFormObj_CountObjects(parent)
            if is_form
            else pdfium_c.FPDFPage_CountObjects(parent)
        )
        for position in range(max(count, 0)):
            raw = (
                pdfium_c.FPDFFormObj_GetObject(parent, position)
                if is_form
                else pdfium_c.FPDFPage_GetObject(parent, position)
            )
            if not raw:
                continue
            kind = pdfium_c.FPDFPageObj_GetType(raw)
            if kind not in (pdfium_c.FPDF_PAGEOBJ_IMAGE, pdfium_c.FPDF_PAGEOBJ_FORM):
                continue
            matrix = pdfium_c.FS_MATRIX()
            if not pdfium_c.FPDFPageObj_GetMatrix(raw, matrix):
                continue
            # An object's matrix is in its form's space; the form's matrix maps that onward.
            placed = pdfium.PdfMatrix.from_raw(matrix).multiply(onto_page)
            if kind == pdfium_c.FPDF_PAGEOBJ_FORM:
                if depth < _MAX_FORM_DEPTH:
                    walk(raw, is_form=True, onto_page=placed, depth=depth + 1)
                continue
            width, height = pdfium_c.c_uint(), pdfium_c.c_uint()
            if pdfium_c.FPDFImageObj_GetImagePixelSize(raw, width, height):
                found.append(((width.value, height.value), placed))

    walk(page, is_form=False, onto_page=pdfium.PdfMatrix(), depth=0)
    return found


def scan_dpi(page: pdfium.PdfPage) -> float | None:
    """Return the effective resolution of the images a scanned page is made of, or None.

    An image drawn w by h points from p by q pixels has p / (w / 72) pixels per inch across
    (likewise down). Images under 1% of the page are ignored; the rest must cover half the
    page between them for it to count as a scan. The highest resolution among them wins,
    so the sharp mask layer of a mixed-raster scan is not read at its background's dpi.
    Call while holding the PDFium lock.
    """
    width_pt, height_pt = page.get_size()
    page_area = width_pt * height_pt
    if page_area <= 0:
        return None
    covered = 0.0
    best: float | None = None
    for (width_px, height_px), m in _image_placements(page):
        across = math.hypot(m.a, m.b)
        down = math.hypot(m.c, m.d)
        area = abs(m.a * m.d - m.b * m.c)
        if across <= 0 or down <= 0 or area < _MIN_IMAGE_SHARE * page_area:
            continue
        covered += area
        dpi = max(width_px * POINTS_PER_INCH / across, height_px * POINTS_PER_INCH / down)
        best = dpi if best is None else max(best, dpi)
    if best is None or covered < _SCAN_COVERAGE * page_area:
        return None
    return best


def plan_pdf_render(
    *, width_pt: float, height_pt: float, image_dpi: float | None, resolution: PdfResolution
) -> RenderPlan:
    """Return the resolution to render a page at: its images', bounded, and within the limit."""
    if image_dpi is None:
        wanted = resolution.default_dpi
    else:
        wanted = min(resolution.max_dpi, max(resolution.min_dpi, round(image_dpi)))
    too_large = oversized(width_pt=width_pt, height_pt=height_pt, resolution=resolution)
    if too_large is not None:
        return RenderPlan(
            dpi=None,
            wanted_dpi=wanted,
            size=render_size(width_pt=width_pt, height_pt=height_pt, dpi=resolution.min_dpi),
            note=too_large.note,
            image_dpi=image_dpi,
        )
    fitting = _largest_fitting_dpi(
        width_pt=width_pt, height_pt=height_pt, max_pixels=resolution.max_pixels
    )
    if fitting >= wanted:
        return RenderPlan(
            dpi=wanted,
            wanted_dpi=wanted,
            size=render_size(width_pt=width_pt, height_pt=height_pt, dpi=wanted),
            image_dpi=image_dpi,
        )
    width, height = render_size(width_pt=width_pt, height_pt=height_pt, dpi=wanted)
    return RenderPlan(
        dpi=fitting,
        wanted_dpi=wanted,
        size=render_size(width_pt=width_pt, height_pt=height_pt, dpi=fitting),
        note=(
            f"Rendered at {fitting} dpi, not {wanted}: at {wanted} dpi the page would be "
            f"{_size_text(width, height)} pixels, over the limit of "
            f"{resolution.max_pixels} pixels."
        ),
        image_dpi=image_dpi,
    )


def display_dpi(*, width_pt: float, height_pt: float, dpi: int, max_pixels: int) -> int:
    """Return `dpi`, lowered as far as needed for the page to fit `max_pixels` (at least 1)."""
    fitting = _largest_fitting_dpi(width_pt=width_pt, height_pt=height_pt, max_pixels=max_pixels)
    return max(1, min(dpi, fitting))
