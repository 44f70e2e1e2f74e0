"""Check a PDF page's text layer against the page before trusting it over OCR.

A text layer is only what the PDF's fonts claim the glyphs mean. Broken ToUnicode maps
are common: byte-swapped UTF-16 turns "Multicolor" into printable CJK ideographs, a
shifted subset encoding turns it into printable Latin nonsense. Both pass a "readable
characters" test, so the layer must also (1) not be byte-swapped text, (2) be mostly in
a script of the task's language, and (3) agree with a quick OCR of one line of the page
as drawn. A layer that fails is not used; the page is OCRed and its result says why.
"""

import difflib
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from PIL import Image

from tasks.ocr.engines import Box, PageResult

# Share of a layer's characters that must read as Latin once byte-swapped to call it swapped.
_SWAPPED_SHARE = 0.5
# Share of its letters that may be in scripts foreign to the task's language.
_FOREIGN_SCRIPT_SHARE = 0.5
# Fewer letters or sample characters than these and the test says nothing either way.
_MIN_LETTERS = 20
_MIN_SAMPLE_CHARS = 8
# How much of the OCR sample must match the layer's text in the same region (0..1).
MIN_SAMPLE_AGREEMENT = 0.5

# Scripts by the first word of Unicode character names; Latin is allowed for every language
# (names, numbers and addresses are Latin everywhere). Languages not listed are Latin-script.
_LANGUAGE_SCRIPTS: dict[str, frozenset[str]] = {
    **dict.fromkeys(
        ("chi_sim", "chi_tra", "chi_sim_vert", "chi_tra_vert", "ch"), frozenset({"CJK"})
    ),
    **dict.fromkeys(("jpn", "jpn_vert"), frozenset({"CJK", "HIRAGANA", "KATAKANA"})),
    "kor": frozenset({"HANGUL", "CJK"}),
    **dict.fromkeys(
        ("rus", "ukr", "bel", "bul", "mkd", "srp", "kaz", "kir", "mon", "tgk", "tat", "bak"),
        frozenset({"CYRILLIC"}),
    ),
    **dict.fromkeys(("ell", "grc"), frozenset({"GREEK"})),
    **dict.fromkeys(("ara", "fas", "urd", "pus", "uig", "snd"), frozenset({"ARABIC"})),
    **dict.fromkeys(("heb", "yid"), frozenset({"HEBREW"})),
    **dict.fromkeys(("hin", "mar", "nep", "san"), frozenset({"DEVANAGARI"})),
    **dict.fromkeys(("ben", "asm"), frozenset({"BENGALI"})),
    "tha": frozenset({"THAI"}),
    "tam": frozenset({"TAMIL"}),
    "tel": frozenset({"TELUGU"}),
    "kan": frozenset({"KANNADA"}),
    "mal": frozenset({"MALAYALAM"}),
    "guj": frozenset({"GUJARATI"}),
    "pan": frozenset({"GURMUKHI"}),
    "ori": frozenset({"ORIYA"}),
    "sin": frozenset({"SINHALA"}),
    "khm": frozenset({"KHMER"}),
    "lao": frozenset({"LAO"}),
    "mya": frozenset({"MYANMAR"}),
    "bod": frozenset({"TIBETAN"}),
    "amh": frozenset({"ETHIOPIC"}),
    "kat": frozenset({"GEORGIAN"}),
    "hye": frozenset({"ARMENIAN"}),
    "div": frozenset({"THAANA"}),
    "syr": frozenset({"SYRIAC"}),
}
# Name prefixes that say how a character is drawn, not which script it belongs to.
_WIDTH_PREFIXES = frozenset({"FULLWIDTH", "HALFWIDTH"})


@dataclass(frozen=True, kw_only=True)
class TextLayerPolicy:
    """How a task wants PDF text layers treated."""

    # OCR every page, as OCRmyPDF's --force-ocr: no text layer is used.
    force_ocr: bool = False
    # The task's OCR language codes (Tesseract's "eng", RapidOCR's "ch"), for the script test.
    languages: tuple[str, ...] = ()
    # Reads a crop of the page and returns its text; None skips the sample test.
    read_sample: Callable[[Image.Image], str] | None = None


@dataclass(frozen=True)
class Verdict:
    """Whether to use a text layer, and the note for the page's result."""

    use: bool
    note: str


USED = Verdict(True, "used")


def swap_bytes(code: int) -> int:
    """Return a UTF-16 code unit with its two bytes exchanged."""
    return ((code & 0xFF) << 8) | (code >> 8)


def byte_swapped(text: str) -> str | None:
    """Return `text` with each code unit's bytes swapped if that makes it Latin, else None."""
    visible = [char for char in text if not char.isspace()]
    if not visible:
        return None
    # "M" (U+004D) stored big-endian but read little-endian becomes U+4D00: a code unit
    # whose low byte is zero and whose high byte is a printable Latin-1 character.
    swapped = sum(
        1
        for char in visible
        if ord(char) <= 0xFFFF
        and ord(char) & 0xFF == 0
        and (0x21 <= ord(char) >> 8 <= 0x7E or 0xA1 <= ord(char) >> 8 <= 0xFF)
    )
    if swapped < _SWAPPED_SHARE * len(visible):
        return None
    return "".join(
        chr(swap_bytes(ord(char))) if ord(char) <= 0xFFFF and not char.isspace() else char
        for char in text
    )


def _script(char: str) -> str:
    words = unicodedata.name(char, "UNKNOWN").split()
    if words[0] in _WIDTH_PREFIXES and len(words) > 1:
        return words[1]
    return words[0]


def allowed_scripts(languages: tuple[str, ...]) -> frozenset[str]:
    """Return the scripts a text in any of `languages` ("eng", "chi_sim+eng") is written in."""
    scripts = {"LATIN"}
    for language in languages:
        for code in language.split("+"):
            scripts |= _LANGUAGE_SCRIPTS.get(code.strip(), frozenset())
    return frozenset(scripts)


def foreign_script(text: str, languages: tuple[str, ...]) -> str | None:
    """Return a note when most of `text`'s letters are in scripts its language does not use."""
    if not languages:
        return None
    letters = [char for char in text if unicodedata.category(char).startswith("L")]
    if len(letters) < _MIN_LETTERS:
        return None
    allowed = allowed_scripts(languages)
    foreign: dict[str, int] = {}
    for char in letters:
        script = _script(char)
        if script not in allowed:
            foreign[script] = foreign.get(script, 0) + 1
    total = sum(foreign.values())
    if total <= _FOREIGN_SCRIPT_SHARE * len(letters):
        return None
    main = max(foreign, key=lambda script: foreign[script])
    return (
        f"{round(100 * total / len(letters))}% of its letters are in scripts "
        f"({main.title()} most) that {'+'.join(languages)} is not written in"
    )


def _normalised(text: str) -> str:
    return "".join(
        char for char in unicodedata.normalize("NFKC", text).casefold() if char.isalnum()
    )


def agreement(expected: str, read: str) -> float | None:
    """Return how much of two texts match (0..1), ignoring case, spaces and punctuation.

    None when OCR read (almost) nothing: an undrawn or unreadable region proves nothing.
    """
    ours, theirs = _normalised(expected), _normalised(read)
    if len(theirs) < _MIN_SAMPLE_CHARS // 2 or len(ours) < _MIN_SAMPLE_CHARS:
        return None
    return difflib.SequenceMatcher(None, ours, theirs, autojunk=False).ratio()


@dataclass(frozen=True)
class Sample:
    """One region of the page to OCR, and the layer's text inside it."""

    box: Box
    expected: str


def sample_region(layer: PageResult, *, size: tuple[int, int]) -> Sample | None:
    """Return one region of the page worth OCRing, and the layer's text inside it.

    The region is the layer's line with the most letters and digits, with a margin of half
    its height; lines without glyph boxes (given the whole page) are never chosen.
    """
    width, height = size
    whole_page = (0, 0, width, height)
    candidates = [
        line
        for line in layer.lines
        if line.box != whole_page and line.box[2] > line.box[0] and line.box[3] > line.box[1]
    ]
    if not candidates:
        return None
    line = max(candidates, key=lambda line: len(_normalised(line.text)))
    if len(_normalised(line.text)) < _MIN_SAMPLE_CHARS:
        return None
    x0, y0, x1, y1 = line.box
    margin = max(8, (y1 - y0) // 2)
    box = (
        max(0, x0 - margin),
        max(0, y0 - margin),
        min(width, x1 + margin),
        min(height, y1 + margin),
    )
    inside = [
        other.text
        for other in layer.lines
        if other.box != whole_page
        and box[0] <= (other.box[0] + other.box[2]) / 2 <= box[2]
        and box[1] <= (other.box[1] + other.box[3]) / 2 <= box[3]
    ]
    return Sample(box, " ".join(inside))


def crop_points(box: Box, *, size: tuple[int, int], dpi: int) -> tuple[float, float, float, float]:
    """Return the (left, bottom, right, top) points to cut off a page to keep only `box`.

    `box` is in pixels of a `size` render at `dpi`; the cuts are what pypdfium2's render
    takes, so only the region's bitmap is ever allocated.
    """
    scale = dpi / 72
    x0, y0, x1, y1 = box
    width, height = size
    # PDFium rounds each cut up after scaling; half a pixel less keeps it on our pixel.
    left, bottom, right, top = (
        max(0.0, amount - 0.5) / scale for amount in (x0, height - y1, width - x1, y0)
    )
    return left, bottom, right, top


def first_verdict(
    layer: PageResult, *, size: tuple[int, int], policy: TextLayerPolicy
) -> Verdict | Sample:
    """Return what the layer's text alone decides, or the region OCR must compare it with.

    `layer` has its boxes in pixels of a `size` render. The checks are, in order: the
    task asked for OCR of every page; byte-swapped UTF-16; letters mostly in scripts the
    task's language is not written in; then (when `policy` can read a sample) one line.
    """
    if policy.force_ocr:
        return Verdict(False, "ignored: OCR of every page was asked for")
    swapped = byte_swapped(layer.text)
    if swapped is not None:
        excerpt = " ".join(swapped.split())[:40]
        return Verdict(False, f"rejected: byte-swapped UTF-16 (swapped back: {excerpt!r})")
    foreign = foreign_script(layer.text, policy.languages)
    if foreign is not None:
        return Verdict(False, f"rejected: {foreign}")
    if policy.read_sample is None:
        return USED
    sample = sample_region(layer, size=size)
    if sample is None:
        return Verdict(True, "used (no line long enough to check by OCR)")
    return sample


def sample_verdict(sample: Sample, read: str) -> Verdict:
    """Return whether the layer's text of `sample` agrees with what OCR `read` there."""
    score = agreement(sample.expected, read)
    if score is None:
        return Verdict(True, "used (OCR read nothing in the checked line)")
    if score < MIN_SAMPLE_AGREEMENT:
        layer_text = " ".join(sample.expected.split())[:40]
        ocr_text = " ".join(read.split())[:40]
        return Verdict(
            False,
            f"rejected: OCR of one line of the page agrees with it on {score:.0%} "
            f"(layer {layer_text!r}, OCR {ocr_text!r})",
        )
    return USED
