"""Thresholding chosen per page: Sauvola, or Tesseract's default where that reads better."""

from collections.abc import Callable

import pytest
from django.conf import settings
from PIL import Image

from tasks.ocr import engines
from tasks.ocr.thresholding import (
    DEFAULT_METHOD,
    SAUVOLA_METHOD,
    clearly_better,
    confident_characters,
    mean_confidence,
    wants_second_reading,
)
from tasks.tests.scan_corpus import (
    a4_document,
    character_error_rate,
    faint,
    noisy,
    shadowed,
    upright_page,
)

Page = Callable[[], tuple[Image.Image, str]]

SCAN_PAGE: Page = lambda: upright_page(seed=5, font="DejaVu Serif", dpi=300)  # noqa: E731
A4_PAGE: Page = lambda: a4_document(seed=3, font="DejaVu Serif")  # noqa: E731


def _read_with(engine: engines.TesseractEngine, image: Image.Image, method: int) -> str:
    """Return the page's text as recognize gives it, had it used only `method`."""
    api, lock = engine._api_for("eng")
    with lock:
        text, read = engines._tesseract_read(api, image, method=method)
    floor = settings.OCR_MIN_WORD_CONFIDENCE
    return engines._tesseract_result(text=text, read=read, floor=floor).text


@pytest.fixture
def engine() -> engines.TesseractEngine:
    tesseract = engines.get_engine("tesseract")
    assert isinstance(tesseract, engines.TesseractEngine)
    return tesseract


def _cers(engine, image, expected) -> tuple[float, float, float]:
    """Return the CER of the default's reading, Sauvola's, and the one recognize keeps."""
    default = _read_with(engine, image, DEFAULT_METHOD)
    sauvola = _read_with(engine, image, SAUVOLA_METHOD)
    kept = engine.recognize(image, language="eng").text
    cer = [
        character_error_rate(expected=expected, actual=text) for text in (default, sauvola, kept)
    ]
    return cer[0], cer[1], cer[2]


@pytest.mark.parametrize("page", [SCAN_PAGE, A4_PAGE], ids=["scan-300dpi", "a4-150dpi"])
def test_sauvola_is_kept_on_a_shadowed_page(engine, page):
    clean, expected = page()
    default, sauvola, kept = _cers(engine, shadowed(clean), expected)
    # The page is one where the choice matters: the default drops the shaded lines.
    assert default > sauvola + 0.05
    assert kept == pytest.approx(sauvola)


@pytest.mark.parametrize("page", [SCAN_PAGE, A4_PAGE], ids=["scan-300dpi", "a4-150dpi"])
def test_the_default_is_kept_on_a_page_of_faint_print(engine, page):
    clean, expected = page()
    default, sauvola, kept = _cers(engine, faint(clean), expected)
    # Sauvola finds nothing in the pale print; the default reads it.
    assert sauvola > 0.9
    assert default < 0.01
    assert kept == pytest.approx(default)


@pytest.mark.parametrize(
    "page",
    [
        lambda: upright_page(seed=7, font="Liberation Serif", dpi=300),
        lambda: (lambda page: (noisy(page[0], seed=3), page[1]))(
            upright_page(seed=8, font="DejaVu Sans", dpi=300)
        ),
        lambda: a4_document(seed=38, font="Liberation Sans", blur=1.6),
    ],
    ids=["clean", "noisy", "a4-blurred"],
)
def test_an_evenly_lit_page_is_read_once_with_sauvola(engine, page):
    image, expected = page()
    read = engine.recognize(image, language="eng")
    assert read.text == _read_with(engine, image, SAUVOLA_METHOD)
    assert character_error_rate(expected=expected, actual=read.text) < 0.01
    assert not wants_second_reading(read.confidence)


def test_a_second_reading_only_when_unsure_or_empty():
    assert not wants_second_reading(90.0)
    assert wants_second_reading(72.7)
    assert wants_second_reading(None)
    assert mean_confidence([]) is None
    assert mean_confidence([("a", 80.0), ("b", 90.0)]) == 85.0


def test_the_other_reading_must_clearly_beat_the_first():
    assert confident_characters([("word", 50.0), ("junk", 10.0)]) == 2.0
    assert not clearly_better(first=343.0, second=345.0)
    assert clearly_better(first=250.0, second=272.0)
    assert not clearly_better(first=300.0, second=200.0)
