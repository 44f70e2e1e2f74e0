"""PDF pages are rendered at their images' own resolution, within bounds and the pixel limit."""

import pypdfium2 as pdfium
import pytest
from PIL import Image

from tasks.ocr.pages import iter_pages
from tasks.ocr.resolution import PdfResolution, plan_pdf_render, scan_dpi
from tasks.tests import samples

pytest_plugins = ["tasks.tests.ocr_fixtures"]

PAGE = samples.make_text_image(samples.KNOWN_WORDS)
DEFAULTS = PdfResolution()  # 300 dpi for vector pages, 150..400 for scans, 50 MP


def first_page_dpi(data: bytes) -> float | None:
    document = pdfium.PdfDocument(data)
    try:
        page = document[0]
        try:
            return scan_dpi(page)
        finally:
            page.close()
    finally:
        document.close()


def test_a_poster_page_holding_one_photo_has_the_photos_resolution():
    # The report: 25 by 50 inches, one 8.4 MP image, so 82 pixels per inch.
    data = samples.scan_pdf_bytes([(Image.new("L", (2050, 4100), "white"), 25, 50)])

    assert first_page_dpi(data) == pytest.approx(82)


def test_a_page_of_vector_text_has_no_scan_resolution():
    assert first_page_dpi(samples.text_pdf_bytes([samples.TEXT_LAYER_LINES])) is None


def test_a_small_logo_does_not_make_a_page_a_scan():
    # 150 by 150 pixels on 1 by 1 inch of a Letter page: under 1% of it.
    logo = samples.scan_pdf_bytes([(Image.new("L", (150, 150), "white"), 1, 1)])
    document = pdfium.PdfDocument(logo)
    page = document[0]
    page.set_mediabox(0, 0, 612, 792)

    assert scan_dpi(page) is None


@pytest.mark.parametrize(
    ("image_dpi", "expected"),
    [(82, 150), (200, 200), (300, 300), (600, 400), (None, 300)],
    ids=["raised-to-min", "own", "own-300", "lowered-to-max", "vector-default"],
)
def test_the_resolution_is_the_images_within_bounds(image_dpi, expected):
    plan = plan_pdf_render(width_pt=612, height_pt=792, image_dpi=image_dpi, resolution=DEFAULTS)

    assert (plan.dpi, plan.note) == (expected, "")


def test_a_81_megapixel_page_is_read_at_the_largest_resolution_under_the_limit():
    # 30 by 30 inches of 300 dpi scan: 9000 by 9000 pixels, over 50 million.
    plan = plan_pdf_render(width_pt=2160, height_pt=2160, image_dpi=300, resolution=DEFAULTS)

    assert plan.dpi == 235
    assert plan.size == (7050, 7050)
    assert plan.note == (
        "Rendered at 235 dpi, not 300: at 300 dpi the page would be "
        "9000\N{MULTIPLICATION SIGN}9000 pixels, over the limit of 50000000 pixels."
    )


def test_a_page_too_large_even_at_the_minimum_is_planned_unread():
    plan = plan_pdf_render(width_pt=14400, height_pt=14400, image_dpi=300, resolution=DEFAULTS)

    assert plan.dpi is None
    assert plan.note.startswith("Not read: the page is 200\N{MULTIPLICATION SIGN}200 in;")


def test_one_huge_page_never_stops_the_others_being_read(store_upload):
    # A 6-page scan under a 4 MP limit: page 3 is 10 by 10 inches at 300 dpi (9 MP) and is
    # read at 200 dpi; page 5 is 20 by 20 inches (9 MP even at 150 dpi) and is not read.
    big = Image.new("L", (3000, 3000), "white")
    big.paste(PAGE, (100, 100))
    huge = Image.new("L", (600, 600), "white")
    upload = store_upload(
        samples.scan_pdf_bytes(
            [(PAGE, 8, 2), (PAGE, 8, 2), (big, 10, 10), (PAGE, 8, 2), (huge, 20, 20), (PAGE, 8, 2)]
        )
    )
    resolution = PdfResolution(max_pixels=4_000_000)

    pages = list(iter_pages(path=upload.path, kind=upload.kind, resolution=resolution))

    assert [page.index for page in pages] == [0, 1, 2, 3, 4, 5]
    assert [page.dpi for page in pages] == [150, 150, 200, 150, None, 150]
    assert [page.image is not None for page in pages] == [True, True, True, True, False, True]
    assert pages[2].image.size == (2000, 2000)
    assert pages[2].note.startswith("Rendered at 200 dpi, not 300")
    assert pages[4].note.startswith("Not read: the page is 20\N{MULTIPLICATION SIGN}20 in;")
    assert all(not pages[index].note for index in (0, 1, 3, 5))
