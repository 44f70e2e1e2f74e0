"""Choose Tesseract's thresholding per page: Sauvola, or its default (Otsu) where that reads better.

Measured on the generated pages of tasks/tests/scan_corpus.py at 300 and 150 dpi:

- Evenly lit pages, clean, noisy, blurred or photographed: both read the same (CER
  0.000-0.004), Tesseract's mean word confidence 90-92 either way.
- A page with a shadow across it (a book's gutter): the default drops the shaded lines
  (CER 0.25-0.32), Sauvola keeps most of them (0.09-0.17; confidence 73-80).
- A blurred A4 page (Liberation Sans 11 pt, blur 1.6): the default lost a line (CER 0.094),
  Sauvola read it all (0.003), both at confidence 90.
- Faint text (ink at grey 190 on white): Sauvola finds no text at all, the default reads
  it perfectly. The issue's clean book page, Sauvola with the 300 dpi hint: 24 of 66
  lines junk, where the default read CER 0.013.

So Sauvola reads first; a page it reads with low confidence, or not at all, is read again
with the default, and the reading with more confidently read characters is kept. Mean
confidence alone does not pick the better one (dropped lines take no confidence with
them: on the shadowed page the default's worse reading scored 90, Sauvola's better 80),
so it only decides whether a second reading is worth its cost.
"""

from collections.abc import Iterable

DEFAULT_METHOD = 0  # Tesseract's own (Otsu)
SAUVOLA_METHOD = 2
# Sauvola's reading with a mean word confidence under this (0..100) is tried with the
# default too: evenly lit pages scored 90-92, every page where the choice mattered less.
_UNSURE_CONFIDENCE = 85.0
# The other reading must carry this much more confident text to replace the first: on
# evenly lit pages the two differed by under 1 %, where one lost lines by 9 % or more.
_BETTER_SHARE = 1.03
# Words under this confidence count for nothing: junk read from a wrecked binarisation.
_WORD_FLOOR = 30.0


def mean_confidence(words: Iterable[tuple[str, float]]) -> float | None:
    """Return the mean confidence of all the words read, None when there are none."""
    confidences = [confidence for _, confidence in words]
    return sum(confidences) / len(confidences) if confidences else None


def wants_second_reading(confidence: float | None) -> bool:
    """Return whether a page read with Sauvola at `confidence` should be read with the default."""
    return confidence is None or confidence < _UNSURE_CONFIDENCE


def confident_characters(words: Iterable[tuple[str, float]]) -> float:
    """Return the characters read, each weighted by its word's confidence (0..100)."""
    return sum(
        len(text) * confidence / 100 for text, confidence in words if confidence >= _WORD_FLOOR
    )


def clearly_better(*, first: float, second: float) -> bool:
    """Return whether the second reading's confident characters clearly beat the first's."""
    return second > first * _BETTER_SHARE
