import re

import pytest
from django.utils import translation
from PIL import Image

from tasks.ocr.detect import PDF, PNG
from tasks.ocr.inspect import DocumentRejected, corrupt, decode_failure, inspect_document
from tasks.ocr.resolution import PdfResolution
from tasks.tests import samples

pytest_plugins = ["tasks.tests.ocr_fixtures"]

MAX_PAGES = 50
MAX_PIXELS = 40_000_000
PAGE = samples.make_text_image(samples.KNOWN_WORDS)
SECOND_PAGE = samples.make_text_image(samples.SECOND_PAGE_WORDS)


def inspect(upload, *, max_pages=MAX_PAGES, max_pixels=MAX_PIXELS, min_dpi=150, kind=None):
    return inspect_document(
        path=upload.path,
        kind=kind or upload.kind,
        max_pages=max_pages,
        max_pixels=max_pixels,
        resolution=PdfResolution(min_dpi=min_dpi),
    )


def rejection(upload, **limits) -> DocumentRejected:
    with pytest.raises(DocumentRejected) as caught:
        inspect(upload, **limits)
    return caught.value


@pytest.mark.parametrize("image_format", ["PNG", "JPEG", "WEBP", "BMP", "TIFF"])
def test_single_images_have_one_page(store_upload, image_format):
    upload = store_upload(samples.encode_image(PAGE, format=image_format))

    assert inspect(upload).page_count == 1


def test_multipage_tiff_counts_every_page(store_upload):
    upload = store_upload(samples.multipage_tiff_bytes([PAGE, SECOND_PAGE, PAGE]))

    assert inspect(upload).page_count == 3


def test_scanned_pdf_counts_pages(store_upload):
    upload = store_upload(samples.image_pdf_bytes([PAGE, SECOND_PAGE]))

    assert inspect(upload).page_count == 2


def test_born_digital_pdf_counts_pages(store_upload):
    upload = store_upload(samples.text_pdf_bytes([samples.TEXT_LAYER_LINES] * 3))

    assert inspect(upload).page_count == 3


def test_pdf_over_the_page_limit_is_rejected(store_upload):
    upload = store_upload(samples.blank_pdf_bytes(page_count=60))

    rejected = rejection(upload)

    assert rejected.code == "too_many_pages"
    assert rejected.message == "PDF has 60 pages; the limit is 50."


def test_pdf_at_the_page_limit_is_accepted(store_upload):
    upload = store_upload(samples.blank_pdf_bytes(page_count=MAX_PAGES))

    assert inspect(upload).page_count == MAX_PAGES


def test_tiff_over_the_page_limit_is_rejected(store_upload):
    upload = store_upload(samples.multipage_tiff_bytes([PAGE] * 4))

    rejected = rejection(upload, max_pages=3)

    assert rejected.code == "too_many_pages"
    assert rejected.message == "TIFF has 4 pages; the limit is 3."


def test_pixel_bomb_png_is_rejected_before_decoding(store_upload):
    upload = store_upload(samples.pixel_bomb_png_bytes(width=100_000, height=100_000))

    rejected = rejection(upload)

    assert rejected.code == "too_many_pixels"
    assert "10000000000 pixels" in rejected.message
    assert "the limit is 40000000 pixels" in rejected.message


def test_image_just_over_the_limit_is_rejected(store_upload):
    # Between 1x and 2x the limit Pillow would only warn; the warning must still refuse it.
    upload = store_upload(samples.encode_image(Image.new("L", (1500, 1000), 255), format="PNG"))

    rejected = rejection(upload, max_pixels=1_000_000)

    assert rejected.code == "too_many_pixels"
    assert rejected.message == "Image has 1500000 pixels; the limit is 1000000 pixels."


def test_oversized_later_tiff_page_is_rejected(store_upload):
    # Pillow checks only the first frame when opening; later pages are checked by us.
    small = Image.new("L", (100, 100), 255)
    large = Image.new("L", (1500, 1000), 255)
    upload = store_upload(samples.multipage_tiff_bytes([small, large]))

    rejected = rejection(upload, max_pixels=1_000_000)

    assert rejected.code == "too_many_pixels"
    assert (
        rejected.message
        == "Page 2 is 1500\N{MULTIPLICATION SIGN}1000 pixels; the limit is 1000000 pixels."
    )


def test_limit_above_pillows_default_is_honoured(store_upload):
    # 90 million pixels: over Pillow's global default, under this call's limit. Under
    # -W error a leaked DecompressionBombWarning would fail this test.
    upload = store_upload(samples.encode_image(Image.new("1", (10_000, 9_000), 1), format="PNG"))

    assert inspect(upload, max_pixels=100_000_000).page_count == 1


def test_pillow_global_limit_is_left_as_found(store_upload):
    before = Image.MAX_IMAGE_PIXELS
    upload = store_upload(samples.pixel_bomb_png_bytes())

    rejection(upload, max_pixels=1_000)

    assert before == Image.MAX_IMAGE_PIXELS


def test_pdf_page_too_large_at_300_dpi_is_accepted(store_upload):
    # 40 by 40 inches: 12000 by 12000 pixels at 300 dpi, but 6000 by 6000 at 150.
    upload = store_upload(samples.blank_pdf_bytes(page_count=1, media_box=b"0 0 2880 2880"))

    assert inspect(upload, min_dpi=150).page_count == 1


def test_pdf_whose_only_page_is_too_large_even_at_the_minimum_is_rejected(store_upload):
    upload = store_upload(samples.blank_pdf_bytes(page_count=1, media_box=b"0 0 2880 2880"))

    rejected = rejection(upload, min_dpi=200)

    assert rejected.code == "too_many_pixels"
    assert rejected.message == (
        "Page 1 is 40\N{MULTIPLICATION SIGN}40 in: even at 200 dpi it is "
        "8000\N{MULTIPLICATION SIGN}8000 pixels; the limit is 40000000 pixels."
    )


def test_one_pdf_page_too_large_even_at_the_minimum_does_not_refuse_the_others(store_upload):
    small = samples.scan_pdf_bytes([(PAGE, 8, 2)] * 2 + [(PAGE, 200, 200)] + [(PAGE, 8, 2)] * 3)
    upload = store_upload(small)

    assert inspect(upload).page_count == 6


@pytest.mark.parametrize("user_password", ["secret", ""], ids=["password", "owner-only"])
def test_encrypted_pdf_is_rejected(store_upload, user_password):
    upload = store_upload(samples.encrypted_pdf_bytes(user_password=user_password))

    rejected = rejection(upload)

    assert rejected.code == "encrypted"
    assert rejected.message == "Encrypted PDFs are not supported."


@pytest.mark.parametrize("image_format", ["PNG", "JPEG", "TIFF", "WEBP", "BMP"])
def test_truncated_image_is_rejected(store_upload, image_format):
    upload = store_upload(samples.truncated(samples.encode_image(PAGE, format=image_format)))

    rejected = rejection(upload)

    assert rejected.code == "corrupt"
    assert rejected.message.startswith("File is truncated or corrupt")


@pytest.mark.parametrize("image_format", ["PNG", "JPEG", "TIFF", "WEBP", "BMP"])
def test_truncated_image_refusal_in_chinese_has_no_english_from_the_imaging_library(
    store_upload, image_format
):
    # The review saw Pillow's own words after the Chinese: "...: image file is truncated".
    upload = store_upload(samples.truncated(samples.encode_image(PAGE, format=image_format)))

    message = rejection(upload).message
    with translation.override("zh-hans"):
        chinese = str(message)

    assert chinese.startswith("文件不完整或已损坏\N{FULLWIDTH COLON}")
    assert re.search("[A-Za-z]", chinese) is None, chinese
    # English readers keep a plain account of what is wrong.
    assert str(message).startswith("File is truncated or corrupt: the image data")


def test_unreadable_pdf_refusal_in_chinese_has_no_english_from_pdfium(store_upload):
    upload = store_upload(b"%PDF-1.7\nnot really a pdf\n%%EOF\n")

    message = rejection(upload).message
    with translation.override("zh-hans"):
        chinese = str(message)

    assert "PDFium" not in chinese and "Data format error" not in chinese
    assert re.search("[A-Za-z]", chinese.replace("PDF", "")) is None, chinese
    assert str(message) == "File is truncated or corrupt: the PDF's structure cannot be read"


def test_a_decoder_error_of_unknown_wording_stays_english_only_in_english():
    detail = decode_failure(OSError("unsupported BMP compression (7)"))

    assert str(corrupt(detail)) == ("File is truncated or corrupt: unsupported BMP compression (7)")
    with translation.override("zh-hans"):
        chinese = str(corrupt(detail))
    assert "unsupported" not in chinese
    assert chinese.startswith("文件不完整或已损坏\N{FULLWIDTH COLON}")


def test_truncated_pdf_is_rejected(store_upload):
    upload = store_upload(samples.truncated(samples.text_pdf_bytes([samples.TEXT_LAYER_LINES] * 2)))

    rejected = rejection(upload)

    assert rejected.code == "corrupt"
    assert "end-of-file marker" in rejected.message


def test_pdf_with_a_header_and_nothing_else_is_rejected(store_upload):
    upload = store_upload(b"%PDF-1.7\nnot really a pdf\n%%EOF\n")

    assert rejection(upload).code == "corrupt"


def test_png_header_over_garbage_is_rejected(store_upload):
    upload = store_upload(samples.encode_image(PAGE, format="PNG")[:64] + b"\x00" * 4096)

    assert rejection(upload).code == "corrupt"


def test_kind_that_does_not_match_the_bytes_is_rejected(store_upload):
    upload = store_upload(samples.encode_image(PAGE, format="PNG"))

    rejected = rejection(upload, kind=PDF)

    assert rejected.code == "unsupported_type"


def test_rejection_is_an_exception_with_message_and_code(store_upload):
    upload = store_upload(samples.encode_image(PAGE, format="PNG"))

    rejected = rejection(upload, kind=PDF)

    assert str(rejected) == rejected.message
    assert upload.kind == PNG
