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
    return {
        "id": event.pk,
        "sequence": event.sequence,
        "timestamp": canonical_timestamp(event.timestamp),
        "event_type": event.event_type,
        "category": event.category,
        "outcome": event.outcome,
        "user_id": event.user_id,
        "username": event.username,
        "ip_address": event.ip_address,
        "user_agent": event.user_agent,
        "request_id": event.request_id,
        "resource_type": event.resource_type,
        "resource_id": event.resource_id,
        "message": event.message,
        "metadata": event.metadata,
    }


def rows(queryset: QuerySet[AuditEvent]) -> Iterator[dict]:
    """Yield export rows from a server-side cursor, a chunk at a time."""
    for event in queryset.iterator(chunk_size=CHUNK_SIZE):
        yield export_row(event)


def safe_cell(value) -> str:
    """Return a CSV cell that spreadsheets will not evaluate."""
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        value = json.dumps(value, sort_keys=True, ensure_ascii=False)
    text = str(value)
    if text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


class _Line:
    """A file-like sink that hands back what csv.writer wrote."""

    def write(self, value: str) -> str:
        return value


def csv_lines(source: Iterable[dict]) -> Iterator[str]:
    """Yield the CSV header and one line per row."""
    writer = csv.writer(_Line())
    yield writer.writerow(EXPORT_COLUMNS)
    buffer: list[str] = []
    for row in source:
        buffer.append(writer.writerow([safe_cell(row[column]) for column in EXPORT_COLUMNS]))
        if len(buffer) >= 500:
            yield "".join(buffer)
            buffer.clear()
    if buffer:
        yield "".join(buffer)


def ndjson_lines(source: Iterable[dict]) -> Iterator[str]:
    """Yield one JSON document per line."""
    buffer: list[str] = []
    for row in source:
        buffer.append(json.dumps(row, ensure_ascii=False) + "\n")
        if len(buffer) >= 500:
            yield "".join(buffer)
            buffer.clear()
    if buffer:
        yield "".join(buffer)
