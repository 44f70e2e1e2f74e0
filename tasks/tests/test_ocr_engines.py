import functools
import threading
from pathlib import Path

import pytest
import rapidocr
from PIL import Image
from rapidocr.utils.download_file import DownloadFile

from tasks.ocr import engines
from tasks.ocr.engines import (
    RapidOcrEngine,
    UnknownEngine,
    available_engines,
    get_engine,
)
from tasks.ocr.pages import iter_pages
from tasks.ocr.resolution import PdfResolution
from tasks.tests import samples, scan_corpus
from tasks.tests.samples import ENGLISH, words_in

pytest_plugins = ["tasks.tests.ocr_fixtures"]

PAGE = samples.make_text_image(samples.KNOWN_WORDS)
SECOND_PAGE = samples.make_text_image(samples.SECOND_PAGE_WORDS)
RESOLUTION = PdfResolution(default_dpi=150, max_pixels=10**8)


def read(engine, image):
    return engine.recognize(image, language=ENGLISH[engine.name])


def test_engine_reads_the_known_words(ocr_engine):
    result = read(ocr_engine, PAGE)

    assert set(samples.KNOWN_WORDS) <= words_in(result.text)
    assert result.source == "ocr"
    assert 50 < result.confidence <= 100


def test_engine_boxes_each_line_inside_the_image(ocr_engine):
    image = samples.make_text_image(
        samples.KNOWN_WORDS + samples.SECOND_PAGE_WORDS, size=(700, 400)
    )

    result = read(ocr_engine, image)

    assert len(result.lines) >= 2
    for line in result.lines:
        x0, y0, x1, y1 = line.box
        assert all(isinstance(value, int) for value in line.box)
        assert 0 <= x0 < x1 <= image.width and 0 <= y0 < y1 <= image.height
        assert 0 <= line.confidence <= 100
    # Lines come top to bottom and together hold every word.
    assert [line.box[1] for line in result.lines] == sorted(line.box[1] for line in result.lines)
    line_words = set().union(*(words_in(line.text) for line in result.lines))
    assert set(samples.KNOWN_WORDS + samples.SECOND_PAGE_WORDS) <= line_words


def test_engine_reads_greyscale_images(ocr_engine):
    result = read(ocr_engine, PAGE.convert("L"))

    assert set(samples.KNOWN_WORDS) <= words_in(result.text)


def test_blank_page_gives_no_text(ocr_engine):
    result = read(ocr_engine, Image.new("RGB", (800, 300), "white"))

    assert result.text == ""
    assert result.lines == []
    assert result.confidence is None


def test_each_page_of_a_scanned_pdf_is_read(ocr_engine, store_upload):
    upload = store_upload(samples.image_pdf_bytes([PAGE, SECOND_PAGE], dpi=150))

    texts = [
        read(ocr_engine, page.image).text
        for page in iter_pages(path=upload.path, kind=upload.kind, resolution=RESOLUTION)
    ]

    assert set(samples.KNOWN_WORDS) <= words_in(texts[0])
    assert set(samples.SECOND_PAGE_WORDS) <= words_in(texts[1])
    assert not set(samples.SECOND_PAGE_WORDS) & words_in(texts[0])


def test_each_page_of_a_multipage_tiff_is_read(ocr_engine, store_upload):
    upload = store_upload(samples.multipage_tiff_bytes([SECOND_PAGE, PAGE]))

    texts = [
        read(ocr_engine, page.image).text
        for page in iter_pages(path=upload.path, kind=upload.kind, resolution=RESOLUTION)
    ]

    assert set(samples.SECOND_PAGE_WORDS) <= words_in(texts[0])
    assert set(samples.KNOWN_WORDS) <= words_in(texts[1])


def test_unsupported_language_is_refused(ocr_engine):
    with pytest.raises(ValueError, match="does not support language 'klingon'"):
        ocr_engine.recognize(PAGE, language="klingon")


def test_concurrent_calls_get_their_own_answers(ocr_engine):
    # One engine per process serves every worker thread; each must get its own page back.
    jobs = [
        (PAGE, samples.KNOWN_WORDS),
        (SECOND_PAGE, samples.SECOND_PAGE_WORDS),
        (PAGE, samples.KNOWN_WORDS),
    ]
    found: list[set[str] | None] = [None] * len(jobs)

    def work(slot: int) -> None:
        found[slot] = words_in(read(ocr_engine, jobs[slot][0]).text)

    threads = [threading.Thread(target=work, args=(slot,)) for slot in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    for (_, expected), words in zip(jobs, found, strict=True):
        assert words is not None and set(expected) <= words


def test_get_engine_builds_each_engine_once():
    assert get_engine("tesseract") is get_engine("tesseract")
    assert get_engine("rapidocr") is get_engine("rapidocr")
    assert get_engine("tesseract").name == "tesseract"


def test_get_engine_refuses_unknown_names():
    with pytest.raises(UnknownEngine, match="Unknown OCR engine 'abbyy'"):
        get_engine("abbyy")


def test_available_engines_lists_installed_languages():
    engines = available_engines()

    assert engines["tesseract"] == get_engine("tesseract").languages
    assert "eng" in engines["tesseract"]
    # The orientation model ships beside the languages but reads no text.
    assert "osd" not in engines["tesseract"]
    assert engines["rapidocr"] == ("ch", "en")


def test_engines_refuse_what_they_do_not_offer_and_name_what_they_do():
    with pytest.raises(ValueError, match="does not support language 'deu'; choose one of: eng"):
        get_engine("tesseract").recognize(PAGE, language="deu")
    with pytest.raises(ValueError, match="does not support language 'eng'; choose one of: ch, en"):
        get_engine("rapidocr").recognize(PAGE, language="eng")
    with pytest.raises(UnknownEngine, match="choose one of: tesseract, rapidocr"):
        get_engine("easyocr")


def test_rapidocr_uses_only_models_from_the_wheel(monkeypatch):
    # The service has no network: any download attempt must fail this test.
    def refuse(*args, **kwargs):
        raise AssertionError("RapidOCR tried to download a model")

    monkeypatch.setattr(DownloadFile, "run", refuse)
    wheel_models = Path(rapidocr.__file__).resolve().parent / "models"

    engine = RapidOcrEngine()
    result = engine.recognize(PAGE, language="en")

    assert set(samples.KNOWN_WORDS) <= words_in(result.text)
    config = engine._ocr.cfg
    assert Path(config.Det.model_path).parent == wheel_models
    assert Path(config.Rec.model_path).parent == wheel_models
    assert config.Global.use_cls is False


# Seeds whose photograph each engine, unfiltered, read junk off: Tesseract
# "i / a | / > \ VN / N W / ... / X \mwz m", RapidOCR "X / 区2" (85 and 51).
JUNK_PHOTO_SEED = {"tesseract": 6, "rapidocr": 4}


def test_a_photograph_without_text_is_read_as_no_text(ocr_engine):
    photo = scan_corpus.photograph_without_text(seed=JUNK_PHOTO_SEED[ocr_engine.name])

    result = read(ocr_engine, photo)

    assert (result.text, result.lines, result.confidence) == ("", [], None)


def test_the_junk_is_there_without_the_confidence_floor(tesseract_engine, monkeypatch):
    # The filter, not the photograph, makes the previous test pass: the page rule removed.
    monkeypatch.setattr(engines, "looks_like_text", lambda words: True)
    photo = scan_corpus.photograph_without_text(seed=JUNK_PHOTO_SEED["tesseract"])

    assert "VN" in read(tesseract_engine, photo).text


@pytest.mark.parametrize(
    "page",
    [
        # Each has words Tesseract trusts less than 45, all of them read right.
        scan_corpus.upright_page(seed=40 + 150, font="Liberation Mono", dpi=150)[0],
        scan_corpus.photographed(
            scan_corpus.upright_page(seed=0 + 300, font="DejaVu Sans", dpi=300)[0], seed=300
        ),
        scan_corpus.a4_document(seed=1, font="DejaVu Serif")[0],
    ],
    ids=["mono-150", "photo", "a4"],
)
def test_the_floor_leaves_real_text_pages_as_they_were(tesseract_engine, settings, page):
    settings.OCR_MIN_WORD_CONFIDENCE = 0
    unfiltered = read(tesseract_engine, page)
    settings.OCR_MIN_WORD_CONFIDENCE = 20

    assert read(tesseract_engine, page).text == unfiltered.text != ""


def test_words_under_the_floor_are_dropped(tesseract_engine, settings):
    settings.OCR_MIN_WORD_CONFIDENCE = 100

    assert read(tesseract_engine, PAGE).text == ""


def test_tesseract_reports_each_words_box_and_confidence(tesseract_engine):
    (line,) = read(tesseract_engine, PAGE).lines

    assert [word.text for word in line.words] == samples.KNOWN_WORDS
    for word in line.words:
        assert 50 < word.confidence <= 100
        assert line.box[0] <= word.box[0] < word.box[2] <= line.box[2]


TWO_COLUMNS = scan_corpus.two_column_page(seed=1)


@functools.cache
def two_columns_read(engine_name: str) -> engines.PageResult:
    """Read the two-column page once per engine: RapidOCR takes seconds over an A4 page."""
    engine = get_engine(engine_name)
    return read(engine, TWO_COLUMNS[0])


def test_two_columns_are_read_in_reading_order(ocr_engine):
    printed = TWO_COLUMNS[1]

    result = two_columns_read(ocr_engine.name)

    # Unordered, RapidOCR alternated between the columns: CER 0.65 on this page.
    truth = "\n".join(printed)
    assert scan_corpus.character_error_rate(expected=truth, actual=result.text) < 0.1
    found = [
        next(n for n, line in enumerate(printed) if line == read_line.text)
        for read_line in result.lines
        if read_line.text in printed
    ]
    assert len(found) >= 0.8 * len(printed)
    assert found == sorted(found)


def test_two_columns_are_three_blocks_heading_left_right(ocr_engine):
    printed = TWO_COLUMNS[1]
    lines = two_columns_read(ocr_engine.name).lines

    blocks = [[line.text for line in lines if line.block == n] for n in range(lines[-1].block + 1)]

    assert [line.block for line in lines] == sorted(line.block for line in lines)
    assert len(blocks) == 3
    assert blocks[0] == [printed[0]]
    # Each column's lines in its own block: most of them read exactly as printed.
    for block, column in zip(blocks[1:], (printed[1:17], printed[17:]), strict=True):
        assert len(block) == len(column)
        assert sum(text in column for text in block) >= 0.8 * len(column)


def test_both_engines_box_each_word_inside_its_line(ocr_engine):
    lines = two_columns_read(ocr_engine.name).lines

    for line in lines:
        assert " ".join(word.text for word in line.words) == " ".join(line.text.split())
        for word in line.words:
            assert 0 < word.confidence <= 100
            x0, y0, x1, y1 = word.box
            assert line.box[0] - 2 <= x0 < x1 <= line.box[2] + 2
            assert line.box[1] - 2 <= y0 < y1 <= line.box[3] + 2
    words = [word for line in lines for word in line.words]
    # Left to right within a line, and no word box twice.
    assert len({word.box for word in words}) == len(words)
    for line in lines:
        assert [w.box[0] for w in line.words] == sorted(w.box[0] for w in line.words)


def test_a_line_keeps_its_weak_words_and_a_line_of_junk_goes():
    """A weak word inside a trusted line stays (real pages read right); an untrusted line goes."""

    def word(text, confidence, left):
        return engines.Word(text=text, confidence=confidence, box=(left, 0, left + 40, 20))

    def line(words, top):
        text = " ".join(w.text for w in words)
        return engines._TesseractLine(
            line=engines.Line(text=text, confidence=70.0, box=(0, top, 200, top + 20)),
            starts_paragraph=False,
            words=words,
        )

    read = [
        line([word("zur", 91, 0), word("Aufklärung", 12, 50), word("gelangen", 88, 100)], 0),
        line([word("~", 5, 0), word("|l", 9, 50)], 40),
    ]

    result = engines._tesseract_result(text="unused", read=read, floor=20)

    assert result.text == "zur Aufklärung gelangen"
    assert [w.text for w in result.lines[0].words] == ["zur", "Aufklärung", "gelangen"]
    assert len(result.lines) == 1
