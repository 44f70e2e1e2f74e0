import io

import pytest
from PIL import Image

from tasks.ocr.detect import HEAD_SIZE, detect_kind
from tasks.tests import samples

IMAGE = samples.make_text_image(["detect"], size=(200, 80), font_size=24)


@pytest.mark.parametrize(
    ("data", "content_type", "extension"),
    [
        (samples.encode_image(IMAGE, format="PNG"), "image/png", "png"),
        (samples.encode_image(IMAGE, format="JPEG"), "image/jpeg", "jpg"),
        (samples.multipage_tiff_bytes([IMAGE, IMAGE]), "image/tiff", "tiff"),
        (samples.encode_image(IMAGE, format="TIFF"), "image/tiff", "tiff"),
        (samples.encode_image(IMAGE, format="WEBP"), "image/webp", "webp"),
        (samples.encode_image(IMAGE, format="BMP"), "image/bmp", "bmp"),
        (samples.image_pdf_bytes([IMAGE]), "application/pdf", "pdf"),
        (samples.text_pdf_bytes([["born digital"]]), "application/pdf", "pdf"),
    ],
    ids=["png", "jpeg", "tiff-multipage", "tiff", "webp", "bmp", "pdf-scan", "pdf-text"],
)
def test_detects_accepted_types_from_the_first_bytes(data, content_type, extension):
    kind = detect_kind(data[:HEAD_SIZE])

    assert kind is not None
    assert (kind.content_type, kind.extension) == (content_type, extension)
    assert kind.is_pdf == (extension == "pdf")


def test_big_endian_tiff_is_a_tiff():
    kind = detect_kind(b"MM\x00*\x00\x00\x00\x08" + bytes(24))

    assert kind is not None and kind.extension == "tiff"


def _gif() -> bytes:
    buffer = io.BytesIO()
    IMAGE.save(buffer, format="GIF")
    return buffer.getvalue()


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"hello, this is plain text",
        b"<html><body><img src=x></body></html>",
        b"PK\x03\x04" + bytes(28),  # zip, docx
        _gif(),
        b"BM" + bytes(30),  # "BM" without a real DIB header
        b"\n%PDF-1.7\n",  # the header must come first
        b"\x89PNG",  # too short to be sure
    ],
    ids=["empty", "text", "html", "zip", "gif", "bm-junk", "pdf-late-header", "png-prefix"],
)
def test_rejects_other_bytes(data):
    assert detect_kind(data[:HEAD_SIZE]) is None


def test_content_not_name_decides(tmp_path):
    # A PNG uploaded as "scan.pdf" is still a PNG: the caller passes only bytes.
    png = samples.encode_image(IMAGE, format="PNG")
    (tmp_path / "scan.pdf").write_bytes(png)

    kind = detect_kind((tmp_path / "scan.pdf").read_bytes()[:HEAD_SIZE])

    assert kind is not None and kind.content_type == "image/png"


def test_detected_type_names_its_pillow_decoder():
    assert detect_kind(samples.encode_image(IMAGE, format="BMP")).pillow_format == "BMP"
    assert detect_kind(samples.text_pdf_bytes([["x"]])).pillow_format is None


def test_detected_type_is_immutable():
    kind = detect_kind(samples.encode_image(IMAGE, format="PNG"))

    with pytest.raises(AttributeError):
        kind.content_type = "text/html"


def test_pillow_agrees_with_detected_formats():
    for image_format in ("PNG", "JPEG", "TIFF", "WEBP", "BMP"):
        data = samples.encode_image(IMAGE, format=image_format)
        kind = detect_kind(data[:HEAD_SIZE])

        with Image.open(io.BytesIO(data)) as opened:
            assert opened.format == kind.pillow_format
