"""Turn a validated document into pages: a text layer to keep or an image to OCR."""

from collections.abc import Container, Iterator
from dataclasses import dataclass

import numpy as np
import pypdfium2 as pdfium
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from django_stubs_ext import StrOrPromise
from PIL import Image, ImageOps

from tasks.ocr.detect import DetectedType
from tasks.ocr.engines import PageResult
from tasks.ocr.inspect import (
    DocumentRejected,
    check_pdf_page_area,
    corrupt,
    image_frame_count,
    load_frame,
    load_pdf_page,
    open_image,
    open_pdf,
    pdf_page_points,
    pillow_pixel_limit,
)
from tasks.ocr.plain_scan import is_plain_scan
from tasks.ocr.render import RenderLimits, RenderRefused, draw_page, render_pdf_page_bounded
from tasks.ocr.resolution import (
    PdfResolution,
    RenderPlan,
    display_dpi,
    plan_pdf_render,
    scan_dpi,
)
from tasks.ocr.text_layer import MIN_TEXT_LAYER_CHARS, extract_text_layer
from tasks.ocr.text_layer_check import (
    Sample,
    TextLayerPolicy,
    Verdict,
    crop_points,
    first_verdict,
    sample_verdict,
)

# Pillow's own default, used when a caller showing a thumbnail gives no limit of its own.
_PILLOW_DEFAULT_MAX_PIXELS = 1024 * 1024 * 1024 // 4 // 3

DEFAULT_RENDER_LIMITS = RenderLimits()

_SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I"})


@dataclass(frozen=True, kw_only=True)
class SourcePage:
    """One page of a document: its own text layer, an image for the OCR engine, or neither.

    A page with neither could not be read at all; `note` says why.
    """

    index: int
    # Pixel size of the page as rendered or decoded: the space every line box is given in.
    size: tuple[int, int]
    image: Image.Image | None = None
    text_layer: PageResult | None = None
    # The resolution a PDF page's pixel space is at; None for images and unread pages.
    dpi: int | None = None
    # English, for the page's result: a lowered resolution, or why the page is not read.
    note: str = ""
    # "used…", "rejected: <reason>", "ignored: <reason>"; "" when the page has no text layer.
    text_layer_note: str = ""


def ocr_ready(image: Image.Image) -> Image.Image:
    """Return `image` as an upright RGB or L image on an opaque white background."""
    # Phone photos are stored sideways with an EXIF note saying so. This also copies the
    # pixels, so the result outlives the file it was decoded from.
    image = ImageOps.exif_transpose(image)
    if image.mode == "1":
        return image.convert("L")
    if image.mode in _SIXTEEN_BIT_MODES:
        # convert("L") clips 16-bit values instead of scaling them: a white page at 65535
        # and grey text at 30000 would both come out 255, a blank page.
        pixels: np.ndarray = np.asarray(image, dtype=np.uint32)
        if pixels.max(initial=0) > 255:
            pixels = pixels >> 8
        return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    if image.mode == "F":
        return Image.fromarray(np.clip(np.asarray(image), 0, 255).astype(np.uint8))
    if image.mode in ("L", "RGB"):
        return image
    if image.mode == "P" and "transparency" not in image.info:
        return image.convert("RGB")
    if image.mode in ("RGBA", "LA", "PA", "P", "RGBa", "La"):
        # Transparent pixels often hold black: dropping alpha would hide black text.
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, image.convert("RGBA")).convert("RGB")
    return image.convert("RGB")


def _image_page_count(*, path: str, kind: DetectedType, max_pixels: int) -> int:
    with (
        pillow_pixel_limit(max_pixels),
        open_image(path=path, kind=kind, max_pixels=max_pixels) as image,
    ):
        return image_frame_count(image, kind=kind)


def _image_frame(*, path: str, kind: DetectedType, index: int, max_pixels: int) -> Image.Image:
    # The file is reopened per frame so that no Pillow or file state, nor the pixel-limit
    # lock, is held while a caller spends seconds on OCR between pages.
    with (
        pillow_pixel_limit(max_pixels),
        open_image(path=path, kind=kind, max_pixels=max_pixels) as image,
    ):
        load_frame(image, kind=kind, index=index, max_pixels=max_pixels)
        return ocr_ready(image)


def _draw_plain_scan(*, path: str, index: int, dpi: int) -> Image.Image | None:
    """Return a plain scan page drawn in this process, or None if PDFium could not draw it."""
    with open_pdf(path) as document:
        page = load_pdf_page(document, index)
        try:
            return draw_page(page, dpi=dpi)
        except pdfium.PdfiumError:
            return None  # the child says why, in the words it always has
        finally:
            page.close()


def _render_pdf_page(
    *,
    path: str,
    index: int,
    dpi: int,
    limits: RenderLimits,
    crop: tuple[float, float, float, float] | None = None,
    plain: bool = False,
) -> Image.Image:
    # Call only at a dpi chosen within the pixel limit: the bitmap is allocated up front.
    # `plain`: is_plain_scan said the page costs no more than its pixels to draw.
    drawn = _draw_plain_scan(path=path, index=index, dpi=dpi) if plain and not crop else None
    if drawn is not None:
        return drawn
    try:
        return render_pdf_page_bounded(path=path, index=index, dpi=dpi, limits=limits, crop=crop)
    except RenderRefused as refused:
        message: StrOrPromise
        if refused.code == "render_timeout":
            message = format_lazy(
                _("Page {number} takes longer than {seconds} seconds to draw."),
                number=index + 1,
                seconds=f"{limits.seconds:g}",
            )
        elif refused.code == "render_memory":
            message = format_lazy(
                _("Page {number} needs more than {megabytes} MB of memory to draw."),
                number=index + 1,
                megabytes=limits.memory_bytes // 2**20,
            )
        else:
            message = corrupt(format_lazy(_("page {number} cannot be drawn"), number=index + 1))
        raise DocumentRejected(message, refused.code) from refused


def _judge_text_layer(
    layer: PageResult,
    *,
    path: str,
    index: int,
    plan: RenderPlan,
    dpi: int,
    policy: TextLayerPolicy,
    limits: RenderLimits,
) -> Verdict:
    verdict = first_verdict(layer, size=plan.size, policy=policy)
    if not isinstance(verdict, Sample) or policy.read_sample is None:
        return verdict if isinstance(verdict, Verdict) else Verdict(True, "used")
    # One line of the page, drawn by the child like every page, and read by OCR.
    crop = crop_points(verdict.box, size=plan.size, dpi=dpi)
    region = _render_pdf_page(path=path, index=index, dpi=dpi, limits=limits, crop=crop)
    return sample_verdict(verdict, policy.read_sample(region))


def _pdf_source_page(
    *,
    path: str,
    index: int,
    plan: RenderPlan,
    layer: PageResult | None,
    resolution: PdfResolution,
    policy: TextLayerPolicy,
    limits: RenderLimits,
    plain: bool = False,
) -> SourcePage:
    """Return one PDF page as its checked text layer, a rendered image, or unread.

    A `plain` page (tasks.ocr.plain_scan) is drawn in this process, others by a child.
    """
    layer_dpi = plan.dpi or resolution.min_dpi
    layer_note = ""
    if layer is not None:
        verdict = _judge_text_layer(
            layer, path=path, index=index, plan=plan, dpi=layer_dpi, policy=policy, limits=limits
        )
        layer_note = verdict.note
        if verdict.use:
            # Not rendered, so a lowered resolution only scales the boxes: no note.
            return SourcePage(
                index=index,
                size=plan.size,
                text_layer=layer,
                dpi=layer_dpi,
                text_layer_note=layer_note,
            )
    if plan.dpi is None:
        return SourcePage(index=index, size=plan.size, note=plan.note, text_layer_note=layer_note)
    image = _render_pdf_page(path=path, index=index, dpi=plan.dpi, limits=limits, plain=plain)
    return SourcePage(
        index=index,
        size=image.size,
        image=image,
        dpi=plan.dpi,
        note=plan.note,
        text_layer_note=layer_note,
    )


def iter_pages(
    *,
    path: str,
    kind: DetectedType,
    resolution: PdfResolution,
    text_policy: TextLayerPolicy | None = None,
    min_text_chars: int = MIN_TEXT_LAYER_CHARS,
    skip: Container[int] = frozenset(),
    limits: RenderLimits = DEFAULT_RENDER_LIMITS,
) -> Iterator[SourcePage]:
    """Yield each page in order: its PDF text layer when that is kept, else an image.

    A PDF page's text layer is kept when it has at least `min_text_chars` readable
    characters and passes the checks of `text_policy` (see text_layer_check). Other PDF
    pages are rendered at the resolution `resolution` chooses for them (their images'
    own, bounded; lowered to fit the pixel limit); a page that does not fit even at the
    minimum comes back with neither image nor text, and a note. Image frames over
    `resolution.max_pixels` are refused, as inspect_document refuses them. Pages whose
    index is in `skip` (already read by an earlier attempt) are neither decoded nor
    rendered. PDF pages are drawn by a child process within `limits`, but for plain scans
    (tasks.ocr.plain_scan), drawn in this process as they cost no more than their pixels.
    """
    policy = text_policy or TextLayerPolicy()
    for index in range(page_count(path=path, kind=kind, max_pixels=resolution.max_pixels)):
        if index in skip:
            continue
        yield source_page(
            path=path,
            kind=kind,
            index=index,
            resolution=resolution,
            text_policy=policy,
            min_text_chars=min_text_chars,
            limits=limits,
        )


def page_count(*, path: str, kind: DetectedType, max_pixels: int) -> int:
    """Return how many pages (PDF pages, image frames) the document has."""
    if not kind.is_pdf:
        return _image_page_count(path=path, kind=kind, max_pixels=max_pixels)
    with open_pdf(path) as document:
        return len(document)


def source_page(
    *,
    path: str,
    kind: DetectedType,
    index: int,
    resolution: PdfResolution,
    text_policy: TextLayerPolicy | None = None,
    min_text_chars: int = MIN_TEXT_LAYER_CHARS,
    limits: RenderLimits = DEFAULT_RENDER_LIMITS,
) -> SourcePage:
    """Return page `index` as iter_pages would yield it: the file is opened for it alone."""
    if not kind.is_pdf:
        max_pixels = resolution.max_pixels
        image = _image_frame(path=path, kind=kind, index=index, max_pixels=max_pixels)
        return SourcePage(index=index, size=image.size, image=image)
    # Reopened per page: PDFium must stay behind its lock, and a generator paused at
    # `yield` for the length of an OCR run must not hold that lock.
    with open_pdf(path) as document:
        page = load_pdf_page(document, index)
        try:
            width_pt, height_pt = page.get_size()
            check_pdf_page_area(width_pt=width_pt, height_pt=height_pt, index=index)
            plan = plan_pdf_render(
                width_pt=width_pt,
                height_pt=height_pt,
                image_dpi=scan_dpi(page),
                resolution=resolution,
            )
            layer = extract_text_layer(page, size=plan.size, min_chars=min_text_chars)
            # Asked only of a page that will be drawn and has no text layer: text is not
            # plain, so a page with one goes to the child anyway.
            plain = (
                layer is None
                and plan.readable
                and is_plain_scan(page, path=path, index=index, max_pixels=resolution.max_pixels)
            )
        finally:
            page.close()
    # Outside the PDFium lock: the child has a PDFium of its own, and a plain page takes
    # the lock again to be drawn.
    return _pdf_source_page(
        path=path,
        index=index,
        plan=plan,
        layer=layer,
        resolution=resolution,
        policy=text_policy or TextLayerPolicy(),
        limits=limits,
        plain=plain,
    )


def render_page_image(
    *,
    path: str,
    kind: DetectedType,
    index: int,
    dpi: int,
    max_pixels: int | None = None,
    limits: RenderLimits = DEFAULT_RENDER_LIMITS,
) -> Image.Image:
    """Return page `index` as an RGB or L image, PDF pages rendered at `dpi`, for display.

    A PDF page too large for `max_pixels` at `dpi` is drawn at the largest resolution that
    fits (its image's info says which). Image frames come back at their own size; the
    caller thumbnails them. A PDF page is drawn by a child process within `limits`, never
    in the caller (a web request).
    """
    limit = max_pixels if max_pixels is not None else _PILLOW_DEFAULT_MAX_PIXELS
    if not kind.is_pdf:
        return _image_frame(path=path, kind=kind, index=index, max_pixels=limit)
    with open_pdf(path) as document:
        # The page tree only: loading the page would parse its content in this process.
        width_pt, height_pt = pdf_page_points(document, index)
    check_pdf_page_area(width_pt=width_pt, height_pt=height_pt, index=index)
    fitting = display_dpi(width_pt=width_pt, height_pt=height_pt, dpi=dpi, max_pixels=limit)
    return _render_pdf_page(path=path, index=index, dpi=fitting, limits=limits)
