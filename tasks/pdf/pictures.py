"""The pictures of the searchable PDF: the image each page shows under its text layer.

A page shows its own image, as uploaded (so the output stays as small as the
input): a JPEG is embedded as it is (DCTDecode), other images go in losslessly from their
frame as decoded and are encoded once, when the document is laid out (tasks.pdf.images).
A page turned before it was read shows its stored JPEG as it is (a second JPEG generation
would only lose), and a black and white scan stays black and white. Any other page is
drawn from the upload: a PDF page at RENDER_DPI (or the OCR resolution if lower), an
image's frame as decoded.
"""

import io
from collections.abc import Sequence

import pypdfium2 as pdfium
from django.conf import settings
from PIL import Image, ImageOps

from ..documents import open_page_image, render_limits
from ..models import OcrPage
from ..ocr.detect import DetectedType
from ..ocr.pages import render_page_image
from .placement import SourceFrame
from .text_layer import PlacedLine, TextLayerFont, add_invisible_line, overlay_lines

# PDF pages are rendered for the download at this resolution, or at the OCR resolution if
# that is lower: 200 dpi keeps scans legible at about a third of the bytes of 300 dpi.
RENDER_DPI = 200
# Images that do not record their resolution are laid out as if scanned at this one.
DEFAULT_IMAGE_DPI = 150
# Plausible scan resolutions; anything outside (0, 1 or 72000 dpi in the wild) is ignored.
IMAGE_DPI_RANGE = (50, 2400)
POINTS_PER_INCH = 72


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
