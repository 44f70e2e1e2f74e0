"""Choose Tesseract's thresholding per page: its default (Otsu) or Sauvola.

Measured on the generated pages of tasks/tests/scan_corpus.py at 300 and 150 dpi: on
evenly lit pages, clean, noisy, blurred or photographed, both methods read the same text
(CER 0.000-0.002 each), and on a clean book page Sauvola with the resolution hint turned
24 of 66 lines into junk where the default kept them. On a page with a shadow across it
(a book's gutter) the default drops the shaded lines whole (CER 0.25-0.32) and Sauvola
keeps most of them (0.09-0.17). The engine's mean word confidence does not tell these
apart: dropped lines take no confidence with them (90 for the default's reading, 73-80
for Sauvola's better one). So a page is read with the default first, and read again with
Sauvola only when its paper is unevenly lit or the first reading is unsure; the reading
with more confidently read characters is kept.
"""

from collections.abc import Iterable

import numpy as np
from PIL import Image

DEFAULT_METHOD = 0  # Tesseract's own (Otsu)
SAUVOLA_METHOD = 2
# Paper shade (90th percentile of a tile) varying by more than this across the page: the
# light is uneven. Evenly lit corpus pages measured 0-1, the phone photos 76, shadowed 192.
_UNEVEN_PAPER = 60
# A first reading whose mean word confidence is under this is tried with Sauvola too.
_UNSURE_CONFIDENCE = 75.0
# Sauvola's reading must carry this much more confident text to replace the default's:
# on evenly lit pages the two differed by under 1 %, on shadowed ones by 9-10 %.
_BETTER_SHARE = 1.03
_TILES = 6
_WORD_FLOOR = 30.0


def paper_unevenness(image: Image.Image) -> float:
    """Return how far the paper's shade varies across the page (0 = evenly lit), 0..255."""
    grey = image.convert("L")
    grey = grey.reduce(max(1, max(grey.size) // 400))
    pixels = np.asarray(grey)
    height, width = pixels.shape[0] // _TILES, pixels.shape[1] // _TILES
    if not height or not width:
        return 0.0
    shades = [
        float(np.percentile(pixels[i * height : (i + 1) * height, j * width : (j + 1) * width], 90))
        for i in range(_TILES)
        for j in range(_TILES)
    ]
    return max(shades) - min(shades)


def wants_second_reading(*, unevenness: float, confidence: float | None) -> bool:
    """Return whether a page read with the default method should be read with Sauvola too."""
    return unevenness > _UNEVEN_PAPER or confidence is None or confidence < _UNSURE_CONFIDENCE


def confident_characters(words: Iterable[tuple[str, float]]) -> float:
    """Return the characters read, each weighted by its word's confidence (0..100)."""
    return sum(
        len(text) * confidence / 100 for text, confidence in words if confidence >= _WORD_FLOOR
    )


def sauvola_is_better(*, default: float, sauvola: float) -> bool:
    """Return whether Sauvola's reading (its confident characters) clearly beats the default's."""
    return sauvola > default * _BETTER_SHARE
