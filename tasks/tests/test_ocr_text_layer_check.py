"""A PDF text layer is used only when it agrees with the page; otherwise the page is OCRed."""

from tasks.ocr.engines import get_engine
from tasks.ocr.pages import iter_pages
from tasks.ocr.resolution import PdfResolution
from tasks.ocr.text_layer_check import (
    TextLayerPolicy,
    agreement,
    byte_swapped,
    foreign_script,
    swap_bytes,
)
from tasks.tests import samples

pytest_plugins = ["tasks.tests.ocr_fixtures"]

LINES = [
    "MulticolorBlack printing for the harbour office",
    "Lantern maintenance budget approved in spring",
]
RESOLUTION = PdfResolution()


def caesar(code: int) -> int:
    """Shift letters by three: a broken subset encoding that still reads as Latin."""
    return code + 3 if 0x41 <= code <= 0x77 else code


def tesseract_policy(**options) -> TextLayerPolicy:
    engine = get_engine("tesseract")
    return TextLayerPolicy(
        languages=("eng",),
        read_sample=lambda image: engine.recognize(image, language="eng").text,
        **options,
    )


def only_page(store_upload, data: bytes, policy: TextLayerPolicy):
    upload = store_upload(data)
    [page] = iter_pages(
        path=upload.path, kind=upload.kind, resolution=RESOLUTION, text_policy=policy
    )
    return page


def test_byte_swapped_utf16_is_recognised_and_swapped_back():
    broken = "".join(chr(swap_bytes(ord(char))) for char in "MulticolorBlack")

    assert broken.startswith("\u4d00\u7500\u6c00")  # what the report saw: 䴀甀氀…
    assert byte_swapped(broken) == "MulticolorBlack"


def test_real_chinese_is_not_taken_for_byte_swapped_text():
    assert byte_swapped("一份关于港口办公室季度报告的文件已经批准") is None


def test_ideographs_are_a_foreign_script_for_english_but_not_for_chinese():
    text = "港口办公室的季度报告已经由委员会批准并且公布在网站上了"

    assert "Cjk" in foreign_script(text, ("eng",))
    assert foreign_script(text, ("ch",)) is None
    assert foreign_script("Quarterly report for the harbour office", ("eng",)) is None


def test_agreement_ignores_case_spacing_and_punctuation_but_not_letters():
    assert agreement("Quarterly report, harbour office", "quarterly report harbour office.") == 1
    assert agreement("Quarterly report", "Txduwhuob uhsruw") < 0.3
    assert agreement("Quarterly report", "") is None


def test_byte_swapped_layer_is_rejected_and_the_page_rendered_for_ocr(store_upload):
    data = samples.miscoded_text_pdf_bytes(LINES, target=swap_bytes)

    page = only_page(store_upload, data, tesseract_policy())

    assert page.text_layer is None
    assert page.image is not None and page.dpi == 300
    assert page.text_layer_note.startswith("rejected: byte-swapped UTF-16")
    assert "MulticolorBlack printing" in page.text_layer_note


def test_latin_nonsense_layer_is_rejected_by_the_ocr_sample(store_upload):
    data = samples.miscoded_text_pdf_bytes(LINES, target=caesar)

    page = only_page(store_upload, data, tesseract_policy())

    assert page.text_layer is None and page.image is not None
    assert page.text_layer_note.startswith("rejected: OCR of one line of the page agrees")


def test_good_layer_passes_every_check_and_is_used(store_upload):
    page = only_page(store_upload, samples.text_pdf_bytes([LINES]), tesseract_policy())

    assert page.image is None
    assert page.text_layer.text.splitlines() == LINES
    assert page.text_layer_note == "used"


def test_good_layer_is_ignored_when_every_page_is_to_be_ocred(store_upload):
    data = samples.text_pdf_bytes([LINES])

    page = only_page(store_upload, data, tesseract_policy(force_ocr=True))

    assert page.text_layer is None and page.image is not None
    assert page.text_layer_note == "ignored: OCR of every page was asked for"
