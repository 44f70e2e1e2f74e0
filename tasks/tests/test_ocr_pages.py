import io

import numpy as np
import pytest
from PIL import Image, ImageDraw

from tasks.ocr.pages import iter_pages, ocr_ready, render_page_image
from tasks.ocr.resolution import PdfResolution
from tasks.tests import samples

pytest_plugins = ["tasks.tests.ocr_fixtures"]

MAX_PIXELS = 40_000_000
PAGE = samples.make_text_image(samples.KNOWN_WORDS)
SECOND_PAGE = samples.make_text_image(samples.SECOND_PAGE_WORDS)


def pages(upload, *, dpi=150, min_dpi=100, max_dpi=400, max_pixels=MAX_PIXELS, **options):
    resolution = PdfResolution(
        default_dpi=dpi, min_dpi=min_dpi, max_dpi=max_dpi, max_pixels=max_pixels
    )
    return list(iter_pages(path=upload.path, kind=upload.kind, resolution=resolution, **options))


def test_png_is_one_image_page(store_upload):
    upload = store_upload(samples.encode_image(PAGE, format="PNG"))

    [page] = pages(upload)

    assert page.index == 0
    assert page.size == (1200, 300)
    assert page.text_layer is None
    assert page.image.mode == "RGB"
    assert page.image.tobytes() == PAGE.tobytes()


def test_multipage_tiff_yields_each_page_in_order(store_upload):
    sources = [PAGE, SECOND_PAGE, Image.new("RGB", PAGE.size, "white")]
    upload = store_upload(samples.multipage_tiff_bytes(sources))

    result = pages(upload)

    assert [page.index for page in result] == [0, 1, 2]
    assert [page.image.tobytes() for page in result] == [image.tobytes() for image in sources]


def test_scanned_pdf_pages_are_rendered_at_their_images_resolution(store_upload):
    # Pillow stores the images as 150 dpi pages: rendered at 150, not at the default 300.
    upload = store_upload(samples.image_pdf_bytes([PAGE, SECOND_PAGE], dpi=150))

    result = pages(upload, dpi=300)

    assert [page.index for page in result] == [0, 1]
    assert all(page.text_layer is None for page in result)
    assert [page.image.size for page in result] == [(1200, 300), (1200, 300)]
    assert [page.size for page in result] == [(1200, 300), (1200, 300)]
    assert [page.dpi for page in result] == [150, 150]
    assert [page.note for page in result] == ["", ""]
    # Black words on white: the drawing holds no colour, so it comes back grey.
    assert result[0].image.mode == "L"
    assert result[0].image.info["dpi"] == (150, 150)


def test_scanned_pdf_pages_are_rendered_at_no_less_than_the_minimum(store_upload):
    # 150 dpi images, minimum 300: twice their pixels, as before resolutions were read.
    upload = store_upload(samples.image_pdf_bytes([PAGE], dpi=150))

    [page] = pages(upload, dpi=300, min_dpi=300)

    assert page.image.size == (2400, 600)
    assert page.dpi == 300


def test_born_digital_pdf_is_read_from_its_text_layer_without_rendering(store_upload):
    first, second = samples.TEXT_LAYER_LINES, samples.TEXT_LAYER_LINES[::-1]
    upload = store_upload(samples.text_pdf_bytes([first, second]))

    result = pages(upload)

    # No image means nothing goes to an OCR engine.
    assert [page.image for page in result] == [None, None]
    assert [page.text_layer.text for page in result] == ["\n".join(first), "\n".join(second)]
    assert {page.text_layer.source for page in result} == {"text_layer"}
    assert result[0].text_layer.confidence is None
    assert [line.text for line in result[0].text_layer.lines] == first


def test_text_layer_lines_are_boxed_in_rendered_page_pixels(store_upload):
    upload = store_upload(samples.text_pdf_bytes([samples.TEXT_LAYER_LINES]))

    [page] = pages(upload, dpi=150)
    boxes = [line.box for line in page.text_layer.lines]

    # Lines start one inch in (150 px at 150 dpi), run top to bottom and sit inside the page.
    width, height = page.size
    # US Letter at 150 dpi; the page itself was never rendered, but its size is the render's.
    assert (width, height) == pytest.approx((1275, 1650), abs=1)
    rendered = render_page_image(path=upload.path, kind=upload.kind, index=0, dpi=150)
    assert page.size == rendered.size
    for x0, y0, x1, y1 in boxes:
        assert 145 <= x0 <= 160
        assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height
    assert [box[1] for box in boxes] == sorted(box[1] for box in boxes)
    # The first line's baseline is 720 pt up a 792 pt page: its top is near 72 pt down.
    assert 100 <= boxes[0][1] <= 160


def test_text_layer_box_covers_the_ink_of_its_line(store_upload):
    upload = store_upload(samples.text_pdf_bytes([samples.TEXT_LAYER_LINES]))
    [page] = pages(upload, dpi=150)
    rendered = np.asarray(
        render_page_image(path=upload.path, kind=upload.kind, index=0, dpi=150).convert("L")
    )
    x0, y0, x1, y1 = page.text_layer.lines[0].box

    inside = rendered[y0:y1, x0:x1]
    assert (inside < 128).sum() > 500
    # Outside the union of line boxes the page is blank.
    masked = rendered.copy()
    for line in page.text_layer.lines:
        a, b, c, d = line.box
        masked[max(0, b - 3) : d + 3, max(0, a - 3) : c + 3] = 255
    assert (masked < 128).sum() == 0


def test_text_layer_boxes_follow_page_rotation(store_upload):
    upload = store_upload(samples.text_pdf_bytes([samples.TEXT_LAYER_LINES], rotate=90))

    [page] = pages(upload, dpi=150)

    # Turned a quarter, the Letter page renders landscape and each line runs downwards.
    assert page.size == pytest.approx((1650, 1275), abs=1)
    for x0, y0, x1, y1 in (line.box for line in page.text_layer.lines):
        assert x1 <= page.size[0] and y1 <= page.size[1]
        assert (y1 - y0) > 5 * (x1 - x0)


def test_scan_with_a_short_text_stamp_is_still_ocred(store_upload):
    upload = store_upload(samples.stamped_scan_pdf_bytes(PAGE, stamp="Scanned by Scanner"))

    [page] = pages(upload)

    assert page.text_layer is None
    assert page.image is not None


def test_text_layer_threshold_is_adjustable(store_upload):
    upload = store_upload(samples.stamped_scan_pdf_bytes(PAGE, stamp="Scanned by Scanner"))

    [page] = pages(upload, min_text_chars=5)

    assert page.image is None
    assert page.text_layer.text == "Scanned by Scanner"


def test_page_too_large_even_at_the_minimum_is_not_read_and_says_why(store_upload):
    # 40 by 40 inches: 6000 by 6000 pixels at the minimum of 150 dpi, over 10 million.
    upload = store_upload(samples.blank_pdf_bytes(page_count=1, media_box=b"0 0 2880 2880"))

    [page] = pages(upload, dpi=300, min_dpi=150, max_pixels=10_000_000)

    assert (page.image, page.text_layer, page.dpi) == (None, None, None)
    assert page.note == (
        "Not read: the page is 40\N{MULTIPLICATION SIGN}40 in; even at the minimum of 150 dpi "
        "it is 6000\N{MULTIPLICATION SIGN}6000 pixels, over the limit of 10000000 pixels."
    )


def test_page_over_the_limit_is_rendered_at_the_largest_resolution_that_fits(store_upload):
    # 40 by 40 inches at 300 dpi would be 144 million pixels; 79 dpi is about 3160 by 3160.
    upload = store_upload(samples.blank_pdf_bytes(page_count=1, media_box=b"0 0 2880 2880"))

    [page] = pages(upload, dpi=300, min_dpi=50, max_pixels=10_000_000)

    assert page.dpi == 79
    width, height = page.image.size
    assert (width, height) == page.size
    assert 3160 <= width <= 3161 and width * height <= 10_000_000
    assert page.note.startswith("Rendered at 79 dpi, not 300: at 300 dpi the page would be ")


def test_a_pdf_page_drawn_all_in_grey_comes_back_grey_and_a_colour_one_in_colour(store_upload):
    # One channel where the drawing has no colour: Tesseract read figure 11's grey scan
    # pages in 0.41 s each instead of 0.58 s as RGB, for the same text.
    colour = PAGE.copy()
    ImageDraw.Draw(colour).rectangle((10, 10, 60, 60), fill=(200, 30, 30))
    upload = store_upload(samples.image_pdf_bytes([PAGE.convert("L"), colour], dpi=150))

    grey, red = pages(upload, dpi=150)

    assert (grey.image.mode, red.image.mode) == ("L", "RGB")
    assert grey.image.info["dpi"] == (150, 150)
    # The same page, only without its two copies of each grey value.
    drawn = np.asarray(grey.image, dtype=int)
    assert np.abs(drawn - np.asarray(PAGE.convert("L"), dtype=int)).mean() < 3


def test_render_page_image_renders_one_pdf_page(store_upload):
    upload = store_upload(samples.text_pdf_bytes([["first page"], ["second page"]]))

    image = render_page_image(path=upload.path, kind=upload.kind, index=1, dpi=72)

    assert image.size == (612, 792)
    assert image.mode == "L"  # black text on white, drawn in grey
    # Some ink: the page has text on it.
    assert np.asarray(image.convert("L")).min() < 128


def test_render_page_image_returns_one_tiff_frame(store_upload):
    upload = store_upload(samples.multipage_tiff_bytes([PAGE, SECOND_PAGE]))

    image = render_page_image(path=upload.path, kind=upload.kind, index=1, dpi=72)

    assert image.tobytes() == SECOND_PAGE.tobytes()


def test_transparent_background_becomes_white():
    # Transparent pixels stored as black: dropping alpha naively would give a black page.
    page = Image.new("RGBA", (50, 20), (0, 0, 0, 0))
    page.putpixel((10, 10), (0, 0, 0, 255))

    result = ocr_ready(page)

    assert result.mode == "RGB"
    assert result.getpixel((0, 0)) == (255, 255, 255)
    assert result.getpixel((10, 10)) == (0, 0, 0)


def test_sixteen_bit_greyscale_keeps_its_contrast():
    pixels = np.full((20, 50), 65535, dtype=np.uint16)
    pixels[5:15, 10:40] = 8000
    page = Image.fromarray(pixels)

    result = ocr_ready(page)

    assert result.mode == "L"
    assert result.getpixel((0, 0)) == 255
    assert result.getpixel((20, 10)) < 64


def test_exif_rotated_photo_is_turned_upright(store_upload):
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: rotate 90 degrees clockwise to view
    buffer = io.BytesIO()
    Image.new("RGB", (300, 100), "white").save(buffer, format="JPEG", exif=exif)
    upload = store_upload(buffer.getvalue())

    [page] = pages(upload)

    assert page.image.size == (100, 300)


def test_palette_and_bilevel_images_become_ocr_modes():
    assert ocr_ready(PAGE.convert("P")).mode == "RGB"
    assert ocr_ready(PAGE.convert("1")).mode == "L"
    assert ocr_ready(PAGE.convert("CMYK")).mode == "RGB"
