"""Stream the audit trail as CSV or NDJSON with constant memory."""

import csv
import json
from collections.abc import Iterable, Iterator

from django.db.models import QuerySet

from .chain import canonical_timestamp
from .models import AuditEvent
from .selectors import LISTING_FIELDS

# Exports carry exactly the columns the listing reads.
EXPORT_COLUMNS = LISTING_FIELDS
CHUNK_SIZE = 2000

# Cells starting with these are run as formulas by spreadsheet programs; a leading
# apostrophe makes them plain text (OWASP "CSV injection").
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def export_row(event: AuditEvent) -> dict:
    """Return the exported fields of one event."""
    return export_values(tuple(getattr(event, name) for name in EXPORT_ATTRIBUTES))


# Model attribute names of EXPORT_COLUMNS ("id" is the primary key).
EXPORT_ATTRIBUTES = tuple("pk" if name == "id" else name for name in EXPORT_COLUMNS)
_TIMESTAMP = EXPORT_COLUMNS.index("timestamp")


def export_values(values: tuple) -> dict:
    """Return the exported fields of one event given as a tuple in EXPORT_COLUMNS order."""
    row = dict(zip(EXPORT_COLUMNS, values, strict=True))
    row["timestamp"] = canonical_timestamp(values[_TIMESTAMP])
    return row


def rows(queryset: QuerySet[AuditEvent]) -> Iterator[dict]:
    """Yield export rows from a server-side cursor, a chunk at a time.

    Tuples, not model instances: building a million models is most of an export's cost.
    """
    tuples = queryset.values_list(*EXPORT_COLUMNS).iterator(chunk_size=CHUNK_SIZE)
    for values in tuples:
        yield export_values(values)


# One encoder each, reused: json.dumps builds a new one per call (a million calls here).
_CELL_JSON = json.JSONEncoder(sort_keys=True, ensure_ascii=False)
_LINE_JSON = json.JSONEncoder(ensure_ascii=False)


def safe_cell(value) -> str:
    """Return a CSV cell that spreadsheets will not evaluate."""
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        value = _CELL_JSON.encode(value)
    text = value if isinstance(value, str) else str(value)
    if text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


class _Line:
    """A file-like sink that hands back what csv.writer wrote."""

    def write(self, value: str) -> str:
        return value


def csv_lines(source: Iterable[dict]) -> Iterator[str]:
    """Yield the CSV header and one line per row (dicts ordered as rows() makes them)."""
    writer = csv.writer(_Line())
    yield writer.writerow(EXPORT_COLUMNS)
    buffer: list[str] = []
    for row in source:
        buffer.append(writer.writerow([safe_cell(value) for value in row.values()]))
        if len(buffer) >= 500:
            yield "".join(buffer)
            buffer.clear()
    if buffer:
        yield "".join(buffer)


def ndjson_lines(source: Iterable[dict]) -> Iterator[str]:
    """Yield one JSON document per line."""
    buffer: list[str] = []
    for row in source:
        buffer.append(_LINE_JSON.encode(row) + "\n")
        if len(buffer) >= 500:
            yield "".join(buffer)
            buffer.clear()
    if buffer:
        yield "".join(buffer)
