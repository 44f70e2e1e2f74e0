"""Why a task matched a search: its hits, counted, with snippets and page numbers.

The database decides which tasks match (tasks.selectors.task_search: PostgreSQL's
stored vector, SQLite's FTS5 index); this module only explains a match, on the few
tasks a page shows, in Python, so both databases explain it the same way. A term
matches as a whole word, case-insensitively, as both indexes match it; a quoted phrase
matches as a phrase; an excluded term (-word) is not highlighted.
"""

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from .selectors import SEARCH_MAX_CHARS

# Around each hit in a snippet, and how many snippets a task shows in the list.
SNIPPET_CONTEXT_CHARS = 60
SNIPPETS_PER_TASK = 3
_TOKEN = re.compile(r'-?"[^"]*"|\S+')


def search_terms(query: str) -> list[str]:
    """Return the words and quoted phrases of ``query`` to highlight, excluded ones left out."""
    terms: list[str] = []
    for piece in _TOKEN.findall(query.strip()[:SEARCH_MAX_CHARS]):
        if piece.startswith("-") or piece == "OR":
            continue
        term = " ".join(piece.replace('"', " ").split())
        if term and term.casefold() not in (known.casefold() for known in terms):
            terms.append(term)
    return terms


def terms_pattern(terms: Sequence[str]) -> re.Pattern[str] | None:
    """Return one pattern matching any term as a whole word (longest first), or None."""
    if not terms:
        return None
    alternatives = "|".join(
        r"\s+".join(re.escape(word) for word in term.split())
        for term in sorted(terms, key=len, reverse=True)
    )
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)


def highlight(text: str, pattern: re.Pattern[str] | None) -> SafeString:
    """Return ``text`` escaped, with every hit in <mark>."""
    if pattern is None:
        return SafeString(escape(text))
    parts: list[str] = []
    end = 0
    for match in pattern.finditer(text):
        parts.append(escape(text[end : match.start()]))
        parts.append(f"<mark>{escape(match.group())}</mark>")
        end = match.end()
    parts.append(escape(text[end:]))
    return mark_safe("".join(parts))  # noqa: S308  (every piece escaped above)


@dataclass(frozen=True)
class Snippet:
    page: int  # counted from 1, as people read page numbers
    html: SafeString


@dataclass
class Hits:
    """A task's hits: how many, on which pages, and the first few in context."""

    count: int = 0
    pages: list[int] = field(default_factory=list)
    snippets: list[Snippet] = field(default_factory=list)


def snippet(text: str, start: int, end: int, pattern: re.Pattern[str]) -> SafeString:
    """Return the hit at ``start:end`` with some words around it, highlighted."""
    left = max(0, start - SNIPPET_CONTEXT_CHARS)
    right = min(len(text), end + SNIPPET_CONTEXT_CHARS)
    # Whole words at the edges: move inwards to the next space.
    if left > 0 and (space := text.find(" ", left, start)) != -1:
        left = space + 1
    if right < len(text) and (space := text.rfind(" ", end, right)) != -1:
        right = space
    body = " ".join(text[left:right].split())
    html = highlight(body, pattern)
    return mark_safe(  # noqa: S308  (highlight escaped the text)
        ("… " if left > 0 else "") + html + (" …" if right < len(text) else "")
    )


def page_hits(
    pages: Iterable[tuple[int, str]], pattern: re.Pattern[str] | None, *, snippets: int
) -> Hits:
    """Count the hits over ``pages`` (index from 0, text) and keep the first snippets."""
    hits = Hits()
    if pattern is None:
        return hits
    for index, text in pages:
        matches = list(pattern.finditer(text))
        if not matches:
            continue
        hits.count += len(matches)
        hits.pages.append(index + 1)
        for match in matches:
            if len(hits.snippets) >= snippets:
                break
            hits.snippets.append(
                Snippet(page=index + 1, html=snippet(text, match.start(), match.end(), pattern))
            )
    return hits


def word_boxes(lines: Sequence[dict], pattern: re.Pattern[str] | None) -> list[tuple[int, ...]]:
    """Return (x, y, width, height) of the words on a page that a search term matches.

    From the stored word boxes (left, top, right, bottom in the page image's pixels;
    Tesseract reports words); a line without words (RapidOCR reads whole lines)
    contributes its whole box when the term is in it.
    """
    if pattern is None:
        return []
    corners: list = []
    for line in lines:
        words = line.get("words") or []
        if words:
            corners.extend(word["box"] for word in words if pattern.search(word.get("text", "")))
        elif pattern.search(line.get("text", "")):
            corners.append(line["box"])
    return [
        (int(left), int(top), int(right - left), int(bottom - top))
        for left, top, right, bottom in corners
    ]
