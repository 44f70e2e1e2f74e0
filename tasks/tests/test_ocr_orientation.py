"""Pages fed in sideways, upside down or skewed are read as if they had been scanned straight."""

import pytest
from PIL import Image, ImageDraw, ImageFont

from tasks.ocr.engines import OcrEngine
from tasks.ocr.orientation import read_upright, straighten
from tasks.tests.ocr_fixtures import ocr_engine, tesseract_engine  # noqa: F401 - fixtures
from tasks.tests.samples import ENGLISH, words_in
from tasks.tests.scan_corpus import (
    FONT_FILES,
    SCAN_WORDS,
    a4_document,
    character_error_rate,
    line_chart,
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


# Upright A4 pages at 150 dpi (font, size in points, blur radius, seed). The first five were
# turned 180 degrees and marked certain when the ink was measured at 75 dpi (CER about
# 0.85); the sixth measured upside down at 150 dpi until the rows where the x-height band
# fades out were left out; the last two were always right.
A4_PAGES = [
    ("Liberation Mono", 11, 1.6, 14),
    ("Liberation Sans", 14, 1.6, 23),
    ("DejaVu Sans", 9, 1.0, 25),
    ("DejaVu Sans", 11, 1.6, 35),
    ("Liberation Sans", 12, 1.0, 43),
    ("Liberation Sans", 11, 1.6, 38),
    ("DejaVu Serif", 10, 0.0, 1),
    ("Liberation Serif", 12, 0.0, 7),
]
# Line charts each turned 180 degrees and marked certain by the ascender measure.
CHART_SEEDS = [0, 1, 18, 22]


def a4_page(font: str, points: int, blur: float, seed: int) -> tuple[Image.Image, str]:
    return a4_document(seed=seed, font=font, points=points, blur=blur)


@pytest.mark.parametrize(("font", "points", "blur", "seed"), A4_PAGES)
def test_upright_a4_page_is_not_turned(font, points, blur, seed):
    image, _ = a4_page(font, points, blur, seed)

    straight, done = straighten(image)

    assert straight is image
    assert done.rotation == 0


@pytest.mark.parametrize("seed", CHART_SEEDS)
def test_upright_line_chart_is_not_turned(seed):
    image, _ = line_chart(seed=seed)

    straight, done = straighten(image)

    assert straight is image
    assert done.rotation == 0


@pytest.mark.parametrize(("font", "points", "blur", "seed"), A4_PAGES)
def test_upside_down_a4_page_is_set_upright_or_said_to_be_unsure(font, points, blur, seed):
    image, _ = a4_page(font, points, blur, seed)

    _, done = straighten(rotated(image, 2))

    # Left as it is is allowed, if it says so; turned the wrong way is not.
    assert done.rotation in (0, 180)
    assert done.rotation == 180 or not done.orientation_certain


@pytest.mark.parametrize("seed", CHART_SEEDS)
def test_upside_down_line_chart_is_never_certain_and_wrong(seed):
    image, _ = line_chart(seed=seed)

    _, done = straighten(rotated(image, 2))

    assert done.rotation in (0, 180)
    assert done.rotation == 180 or not done.orientation_certain


@pytest.mark.parametrize("page", [A4_PAGES[1], A4_PAGES[5]])
def test_blurred_upright_a4_page_reads_as_printed(tesseract_engine: OcrEngine, page):  # noqa: F811
    image, text = a4_page(*page)

    straight, _ = straighten(image)
    result = tesseract_engine.recognize(straight, language=ENGLISH["tesseract"])

    assert character_error_rate(expected=text, actual=result.text) <= 0.05


def test_upright_line_chart_reads_its_title_and_legend(tesseract_engine: OcrEngine):  # noqa: F811
    image, text = line_chart(seed=CHART_SEEDS[0])

    straight, _ = straighten(image)
    result = tesseract_engine.recognize(straight, language=ENGLISH["tesseract"])

    title, *_ = text.splitlines()
    legend = [line for line in text.splitlines() if line.isalpha()]
    assert words_in(title) | set(legend) <= words_in(result.text)


@pytest.mark.parametrize("page", A4_PAGES[6:])
def test_clean_upside_down_a4_page_is_set_upright_and_reads_as_printed(
    tesseract_engine: OcrEngine,  # noqa: F811
    page,
):
    # Being careful must not mean giving up: a clean page of running text is still turned.
    image, text = a4_page(*page)

    straight, done = straighten(rotated(image, 2))
    result = tesseract_engine.recognize(straight, language=ENGLISH["tesseract"])

    assert (done.rotation, done.orientation_certain) == (180, True)
    assert character_error_rate(expected=text, actual=result.text) <= 0.05


def tesseract_reader(engine: OcrEngine):
    return lambda image: engine.recognize(image, language=ENGLISH["tesseract"])


@pytest.mark.parametrize(("turns", "rotation"), [(0, 0), (1, 270), (2, 180), (3, 90)])
def test_unsure_a4_page_is_settled_by_the_reading_the_engine_trusts(
    tesseract_engine: OcrEngine,  # noqa: F811
    turns,
    rotation,
):
    # Blurred and heavy in descenders: neither the ink nor OSD can say which way is up.
    image, text = a4_page(*A4_PAGES[1])
    page = rotated(image, turns) if turns else image
    assert not straighten(page)[1].orientation_certain

    _, done, result = read_upright(page, read=tesseract_reader(tesseract_engine))

    assert (done.rotation, done.orientation_certain) == (rotation, True)
    assert character_error_rate(expected=text, actual=result.text) <= 0.05


def test_upside_down_line_chart_is_set_upright_by_reading_it(
    tesseract_engine: OcrEngine,  # noqa: F811
):
    image, text = line_chart(seed=CHART_SEEDS[0])

    _, done, result = read_upright(rotated(image, 2), read=tesseract_reader(tesseract_engine))

    assert (done.rotation, done.orientation_certain) == (180, True)
    assert words_in(text.splitlines()[0]) <= words_in(result.text)


@pytest.mark.parametrize(("seed", "turns"), [(CHART_SEEDS[0], 1), (CHART_SEEDS[1], 3)])
def test_sideways_line_chart_is_never_certain_and_wrong(
    tesseract_engine: OcrEngine,  # noqa: F811
    seed,
    turns,
):
    # Read both ways up while still sideways, a chart gave two junk readings and the
    # engine trusted one of them clearly more.
    image, _ = line_chart(seed=seed)

    _, done, _ = read_upright(rotated(image, turns), read=tesseract_reader(tesseract_engine))

    assert done.rotation in (0, 360 - 90 * turns)
    assert done.rotation == 360 - 90 * turns or not done.orientation_certain


def test_certain_page_is_read_once(tesseract_engine: OcrEngine):  # noqa: F811
    image, _ = a4_page(*A4_PAGES[6])
    readings = []

    def read(page: Image.Image):
        readings.append(page)
        return tesseract_engine.recognize(page, language=ENGLISH["tesseract"])

    _, done, _ = read_upright(rotated(image, 2), read=read)

    assert (done.rotation, done.orientation_certain, len(readings)) == (180, True, 1)
