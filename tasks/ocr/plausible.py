"""Tell recognised text from the junk an engine reads off a photograph or a drawing."""

from collections.abc import Sequence

# A word needs two letters or digits to count as one: junk read off edges and textures is
# mostly single marks ("o", "/", "\\", "|"), which Tesseract may trust at 80 or more.
_MIN_WORD_CHARACTERS = 2
# Below this mean confidence (0..100) over the words kept, a page holds no text. Junk read
# off a generated photograph averaged 40-55 with Tesseract; the corpus pages, noisy and
# photographed ones included, 80 or more with both engines.
_MIN_PAGE_CONFIDENCE = 60.0


def is_word(text: str) -> bool:
    """Return True if `text` has enough letters or digits to be a word rather than a mark."""
    return sum(char.isalnum() for char in text) >= _MIN_WORD_CHARACTERS


def looks_like_text(words: Sequence[tuple[str, float]]) -> bool:
    """Return True if these (word, confidence) readings of a page are text, not junk."""
    # One trusted word is enough for a page holding only "Invoice"; RapidOCR read "X" (85)
    # and "区2" (51) off a photograph.
    if not any(is_word(text) and confidence >= _MIN_PAGE_CONFIDENCE for text, confidence in words):
        return False
    return sum(confidence for _, confidence in words) / len(words) >= _MIN_PAGE_CONFIDENCE
