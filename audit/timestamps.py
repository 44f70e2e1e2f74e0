"""Timestamps as people read them: one format, with seconds and the zone stated.

The format is DATETIME_FORMAT ("2026-11-27 14:47:05 UTC", ocr_project/formats): pages
and the dashboard show it through Django's `date` filter, the admin through its own
localisation, and CSV exports through utc_text below, which derives its template from
display_timestamp rather than repeating the format. Machines (the JSON API, NDJSON, the
SIEM stream) get the chain's canonical ISO 8601 text instead (audit.chain).
"""

import functools
import re
from collections.abc import Callable
from datetime import UTC, datetime
from operator import itemgetter

from django.utils import formats, timezone

# Every field of this moment is a distinct number, so each can be found in its text;
# each comes with where it sits in canonical text of a four-digit year.
_SAMPLE = datetime(2987, 10, 28, 13, 46, 59, tzinfo=UTC)
_SAMPLE_FIELDS = {
    "2987": slice(0, 4),  # year
    "10": slice(5, 7),  # month
    "28": slice(8, 10),  # day
    "13": slice(11, 13),  # hour
    "46": slice(14, 16),  # minute
    "59": slice(17, 19),  # second
}
_CHECK = datetime(2001, 2, 3, 4, 5, 6, tzinfo=UTC)
CANONICAL = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")


def display_timestamp(value: datetime) -> str:
    """Return a moment as pages and the admin show it, in the display time zone."""
    return formats.date_format(timezone.localtime(value), "DATETIME_FORMAT")


def _from_canonical(text: str) -> str:
    """Return display_timestamp in UTC of canonical text, the slow way."""
    padded = "0" * (4 - text.index("-")) + text  # canonical text leaves years < 1000 unpadded
    with timezone.override(UTC):
        return display_timestamp(datetime.fromisoformat(padded.replace("Z", "+00:00")))


def utc_text() -> Callable[[str], str]:
    """Return a function from canonical timestamp text to display_timestamp's text in UTC.

    Exports write a million timestamps: Django's date_format costs ~50 µs each, most of
    an export's time, so display_timestamp renders one sample moment and its text becomes
    a template the fields of each row are put into. A format this cannot mimic (a month
    name, a 12-hour clock) falls back to display_timestamp per row, as does a year
    before 1000.
    """
    with timezone.override(UTC):
        sample, check = display_timestamp(_SAMPLE), display_timestamp(_CHECK)
    return _compile(sample, check)


@functools.cache
def _compile(sample: str, check: str) -> Callable[[str], str]:
    """Return the renderer for the format that wrote `sample` (and `check`)."""
    # Where each field appears in the sample's text, in order of appearance.
    found = sorted(
        (sample.find(value), value, where)
        for value, where in _SAMPLE_FIELDS.items()
        if value in sample
    )
    template, picks, start = "", [], 0
    for at, value, where in found:
        if at < start:  # one field's digits inside another's: not a format to mimic
            return _from_canonical
        template += sample[start:at].replace("%", "%%") + "%s"
        picks.append(where)
        start = at + len(value)
    template += sample[start:].replace("%", "%%")
    if len(picks) != len(_SAMPLE_FIELDS):  # a field written as a name, or not at all
        return _from_canonical
    pick = itemgetter(*picks)

    def render(text: str) -> str:
        if text[4] != "-":  # a year before 1000: its fields are not where picks look
            return _from_canonical(text)
        return template % pick(text)

    return render if render("2001-02-03T04:05:06.000000Z") == check else _from_canonical


def readable_utc(text: str) -> str:
    """Return canonical timestamp text as utc_text() shows it; any other text as it is.

    For timestamps read from checkpoint files, which need not be canonical at all.
    """
    return utc_text()(text) if CANONICAL.fullmatch(text) else text
