"""A page's stored lines as blocks > paragraphs > lines > words, the shape every format shares."""

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

# XML 1.0 allows tab, newline, carriage return and these ranges; anything else (a PDF text
# layer's form feed, a NUL) would make the whole download ill-formed, so it is dropped.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(text: str) -> str:
    """Return `text` without the characters XML 1.0 cannot carry (escaping is the writer's)."""
    return _NOT_XML.sub("", text)


def _box(value: Any) -> tuple[int, int, int, int] | None:
    """Return a stored [x0, y0, x1, y1] as ints, or None if it is not a box."""
    if not isinstance(value, list | tuple) or len(value) != 4:
        return None
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value):
        return None
    x0, y0, x1, y1 = (round(v) for v in value)
    return (x0, y0, x1, y1) if x0 <= x1 and y0 <= y1 else None


def _confidence(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(min(max(value, 0.0), 100.0))
    return None


def union(boxes: Iterable[Sequence[int]]) -> list[int]:
    """Return the smallest box around `boxes`."""
    boxes = list(boxes)
    return [
        min(box[0] for box in boxes),
        min(box[1] for box in boxes),
        max(box[2] for box in boxes),
        max(box[3] for box in boxes),
    ]


def _line(stored: Mapping[str, Any]) -> dict[str, Any] | None:
    box = _box(stored.get("box"))
    text = stored.get("text")
    if box is None or not isinstance(text, str) or not text.strip():
        return None  # a line that cannot be placed or says nothing is left out
    words = []
    for word in stored.get("words") or []:
        word_box = _box(word.get("box")) if isinstance(word, Mapping) else None
        word_text = word.get("text") if isinstance(word, Mapping) else None
        if word_box is not None and isinstance(word_text, str) and word_text.strip():
            words.append(
                {
                    "text": word_text,
                    "confidence": _confidence(word.get("confidence")),
                    "box": list(word_box),
                }
            )
    return {
        "text": text,
        "confidence": _confidence(stored.get("confidence")),
        "box": list(box),
        "words": words,
    }


def page_blocks(lines: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Return a page's stored lines nested as blocks > paragraphs > lines, in reading order.

    Lines come stored in reading order with their block and paragraph numbers; a page read
    before they were kept (or a PDF text layer's) is one block of one paragraph.
    """
    blocks: list[dict[str, Any]] = []
    last: tuple[Any, Any] | None = None
    for stored in lines:
        line = _line(stored) if isinstance(stored, Mapping) else None
        if line is None:
            continue
        block, paragraph = stored.get("block", 0), stored.get("paragraph", 0)
        if last is None or last[0] != block:
            blocks.append({"box": None, "paragraphs": []})
        if last is None or last != (block, paragraph):
            blocks[-1]["paragraphs"].append({"box": None, "lines": []})
        blocks[-1]["paragraphs"][-1]["lines"].append(line)
        last = (block, paragraph)
    for block in blocks:
        for paragraph in block["paragraphs"]:
            paragraph["box"] = union(line["box"] for line in paragraph["lines"])
        block["box"] = union(paragraph["box"] for paragraph in block["paragraphs"])
    return blocks


def line_words(line: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Return the line's words; a line whose words are unknown is one word over the line."""
    if line["words"]:
        return list(line["words"])
    return [{"text": line["text"], "confidence": line["confidence"], "box": line["box"]}]
