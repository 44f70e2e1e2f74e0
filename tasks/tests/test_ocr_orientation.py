"""Pages fed in sideways, upside down or skewed are read as if they had been scanned straight."""

import pytest
from PIL import Image, ImageDraw, ImageFont

from tasks.ocr.engines import OcrEngine
from tasks.ocr.orientation import straighten
from tasks.tests.ocr_fixtures import ocr_engine  # noqa: F401 - fixture
from tasks.tests.samples import ENGLISH
from tasks.tests.scan_corpus import (
    FONT_FILES,
    SCAN_WORDS,
    character_error_rate,
    noisy,
    photographed,
    rotated,
    skewed,
    upright_page,
)

# The targets, per engine, for every rotated or skewed page.
CER_BOUND = {"tesseract": 0.02, "rapidocr": 0.03}


def scan(case: str) -> tuple[Image.Image, str, int, float]:
    """Return a damaged page, its text, and the clockwise turn and skew that fix it."""
    if case == "sideways-300":
        image, text = upright_page(seed=1, font="DejaVu Serif", dpi=300)
        return rotated(image, 1), text, 270, 0.0
    if case == "upside-down-150":
        image, text = upright_page(seed=2, font="Liberation Sans", dpi=150)
        return rotated(image, 2), text, 180, 0.0
    if case == "skewed-7.5-noisy":
        image, text = upright_page(seed=3, font="Liberation Serif", dpi=300)
        return noisy(skewed(image, 7.5), seed=3), text, 0, 7.5
    if case == "rot270-skewed-10-150":
        image, text = upright_page(seed=4, font="DejaVu Sans", dpi=150)
        return skewed(rotated(image, 3), -10.0), text, 90, -10.0
    image, text = upright_page(seed=5, font="Liberation Mono", dpi=300)
    return photographed(image, seed=5), text, 0, 3.0


CASES = ["sideways-300", "upside-down-150", "skewed-7.5-noisy", "rot270-skewed-10-150", "photo"]


@pytest.mark.parametrize("case", CASES)
def test_straightening_finds_the_turn_and_the_skew(case):
    image, _, rotation, skew = scan(case)

    _, done = straighten(image)

    assert done.orientation_certain
    assert done.rotation == rotation
    assert done.skew == pytest.approx(skew, abs=0.3)


@pytest.mark.parametrize("case", ["sideways-300", "rot270-skewed-10-150", "photo"])
def test_damaged_pages_read_within_the_error_bound(ocr_engine: OcrEngine, case):  # noqa: F811
    image, text, _, _ = scan(case)

    straight, _ = straighten(image)
    result = ocr_engine.recognize(straight, language=ENGLISH[ocr_engine.name])

    assert character_error_rate(expected=text, actual=result.text) <= CER_BOUND[ocr_engine.name]


def test_upright_page_is_left_as_it_is():
    image, _ = upright_page(seed=6, font="DejaVu Sans", dpi=300)

    straight, done = straighten(image)

    assert straight is image
    assert (done.rotation, done.skew, done.orientation_certain) == (0, 0.0, True)


def test_page_with_no_way_up_is_read_as_scanned_and_says_so():
    # Only x-height letters in aligned columns: no ascenders, and rows and columns line up.
    face = ImageFont.truetype(FONT_FILES["DejaVu Sans"], 50)
    image = Image.new("L", (1200, 900), 255)
    draw = ImageDraw.Draw(image)
    for row in range(8):
        draw.text((100, 80 + row * 90), "o x o x o", font=face, fill=0)

    straight, done = straighten(image)

    assert straight is image
    assert (done.rotation, done.skew, done.orientation_certain) == (0, 0.0, False)


def test_blank_page_is_not_turned():
    image = Image.new("L", (1000, 1400), 255)

    straight, done = straighten(image)

    assert straight is image
    assert not done.changed and done.orientation_certain


def sparse_page() -> Image.Image:
    """Short lines far apart on a large page: rows and columns both line up only weakly."""
    face = ImageFont.truetype(FONT_FILES["DejaVu Sans"], 30)
    image = Image.new("L", (1240, 1754), 255)
    draw = ImageDraw.Draw(image)
    for line in range(22):
        words = [SCAN_WORDS[(line * 7 + k * 13) % 30] for k in range(7)]
        draw.text((90, 90 + line * 70), " ".join(words), font=face, fill=0)
    return image


@pytest.mark.parametrize(("turns", "rotation"), [(0, 0), (1, 270), (2, 180), (3, 90)])
def test_sparse_page_is_set_upright_by_the_blank_lines_without_asking_osd(
    monkeypatch, turns, rotation
):
    # Such a page asked Tesseract's OSD every time: 0.28 s, half as long again as
    # reading it (docs/benchmark-notes.md). The blank space between its lines says
    # which way the text runs; the ascenders, which way is up.
    def no_osd(image):
        raise AssertionError("OSD asked")

    monkeypatch.setattr("tasks.ocr.orientation._osd.orientation", no_osd)
    image = rotated(sparse_page(), turns) if turns else sparse_page()

    _, done = straighten(image)

    assert (done.rotation, done.orientation_certain) == (rotation, True)
    assert done.skew == pytest.approx(0.0, abs=0.3)
