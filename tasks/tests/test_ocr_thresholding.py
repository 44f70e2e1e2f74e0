"""Thresholding chosen per page: the default where the paper is evenly lit, Sauvola in shadow."""

import pytest
from django.conf import settings

from tasks.ocr import engines
from tasks.ocr.thresholding import (
    DEFAULT_METHOD,
    SAUVOLA_METHOD,
    paper_unevenness,
    sauvola_is_better,
    wants_second_reading,
)
from tasks.tests.scan_corpus import (
    a4_document,
    character_error_rate,
    noisy,
    shadowed,
    upright_page,
)


def _read_with(engine: engines.TesseractEngine, image, method: int) -> str:
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


@pytest.mark.parametrize(
    "page",
    [
        lambda: upright_page(seed=5, font="DejaVu Serif", dpi=300),
        lambda: a4_document(seed=3, font="DejaVu Serif"),
    ],
    ids=["scan-300dpi", "a4-150dpi"],
)
def test_sauvola_is_chosen_on_a_shadowed_page(engine, page):
    clean, expected = page()
    image = shadowed(clean)
    default_cer = character_error_rate(
        expected=expected, actual=_read_with(engine, image, DEFAULT_METHOD)
    )
    sauvola_cer = character_error_rate(
        expected=expected, actual=_read_with(engine, image, SAUVOLA_METHOD)
    )
    # The page is one where the choice matters: the default drops the shaded lines.
    assert default_cer > 0.2
    assert sauvola_cer < default_cer - 0.05
    read = engine.recognize(image, language="eng")
    assert character_error_rate(expected=expected, actual=read.text) == pytest.approx(sauvola_cer)


@pytest.mark.parametrize(
    "page",
    [
        lambda: upright_page(seed=7, font="Liberation Serif", dpi=300),
        lambda: (lambda im_tx: (noisy(im_tx[0], seed=3), im_tx[1]))(
            upright_page(seed=8, font="DejaVu Sans", dpi=300)
        ),
        lambda: a4_document(seed=4, font="Liberation Sans", blur=1.0),
    ],
    ids=["clean", "noisy", "a4-blurred"],
)
def test_default_is_kept_on_an_evenly_lit_page(engine, page):
    image, expected = page()
    assert paper_unevenness(image) < 10
    read = engine.recognize(image, language="eng")
    assert read.text == _read_with(engine, image, DEFAULT_METHOD)
    assert character_error_rate(expected=expected, actual=read.text) < 0.01


def test_paper_unevenness_sees_the_shadow():
    image, _ = upright_page(seed=5, font="DejaVu Serif", dpi=300)
    assert paper_unevenness(image) < 10
    assert paper_unevenness(shadowed(image)) > 100


def test_second_reading_only_when_uneven_or_unsure():
    assert not wants_second_reading(unevenness=5, confidence=90.0)
    assert wants_second_reading(unevenness=150, confidence=90.0)
    assert wants_second_reading(unevenness=5, confidence=40.0)
    assert wants_second_reading(unevenness=5, confidence=None)


def test_sauvola_must_clearly_beat_the_default():
    assert not sauvola_is_better(default=343.0, sauvola=345.0)
    assert sauvola_is_better(default=250.0, sauvola=272.0)
    assert not sauvola_is_better(default=300.0, sauvola=200.0)
