"""Stream the audit trail as CSV, NDJSON or OCSF with constant memory.

Each row costs a few string operations: the database renders the timestamp as
canonical text and hands back the metadata as its own JSON text, so no row is turned
into datetimes and dicts only to be written out again (that decoding and encoding was
most of an export's time; docs/benchmark-notes.md).
"""

import csv
import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import suppress

from django.db.models import QuerySet

from ..expressions import stored_timestamp_text, values_as_text
from ..models import UNREADABLE_METADATA, AuditEvent
from ..selectors import LISTING_FIELDS
from ..siem.documents import this_writer
from ..siem.ocsf import ocsf_event
from ..timestamps import utc_text

# Exports carry exactly the columns the listing reads, in this order.
EXPORT_COLUMNS = LISTING_FIELDS
# NDJSON, for programs, adds what rebuilds each event's Merkle leaf offline (its
# canonical record needs the prev_hash; docs/transparency.md): read from the table...
NDJSON_COLUMNS = (*EXPORT_COLUMNS, "prev_hash")
# ...and written out with the event's leaf in the tree (its sequence - 1).
NDJSON_FIELDS = (*NDJSON_COLUMNS, "leaf_index")
CHUNK_SIZE = 2000
_TIMESTAMP = EXPORT_COLUMNS.index("timestamp")
_METADATA = EXPORT_COLUMNS.index("metadata")

# Cells starting with these are run as formulas by spreadsheet programs; a leading
# apostrophe makes them plain text (OWASP "CSV injection").
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

# What json.JSONEncoder(ensure_ascii=False) writes for a str, in C.
_encode_string = json.encoder.encode_basestring
_LINE_JSON = json.JSONEncoder(ensure_ascii=False)


class RawJSON(str):
    """A JSON document that goes into an export as it is, not encoded again as a string."""


def metadata_json(text: str) -> RawJSON:
    """Return metadata JSON text as exported: one line, characters unescaped.

    Django's JSONField stores \\uXXXX escapes on SQLite; only those documents are
    decoded and encoded again, so a spreadsheet shows "東京" rather than escapes.
    """
    if "\\u" in text:
        with suppress(ValueError, RecursionError):  # beyond Python's json: as stored
            text = _LINE_JSON.encode(json.loads(text))
    return RawJSON(text)


def rows(
    queryset: QuerySet[AuditEvent], *, columns: tuple[str, ...] = EXPORT_COLUMNS
) -> Iterator[list]:
    """Yield rows of `columns` (EXPORT_COLUMNS first) from a server-side cursor, a chunk at a time.

    The timestamp comes as canonical text and the metadata as RawJSON.
    """
    for values in values_as_text(queryset, columns, chunk_size=CHUNK_SIZE):
        row = list(values)
        if row[_TIMESTAMP] is None:
            row[_TIMESTAMP] = stored_timestamp_text(AuditEvent, pk=row[0])
        row[_METADATA] = metadata_json(row[_METADATA])
        yield row


def _plain_text(value: str) -> str:
    """Return a CSV cell that spreadsheets will not evaluate."""
    return "'" + value if value.startswith(FORMULA_PREFIXES) else value


class _Line:
    """A file-like sink that hands back what csv.writer wrote."""

    def write(self, value: str) -> str:
        return value


def csv_lines(source: Iterable[tuple]) -> Iterator[str]:
    """Yield the CSV header and one line per row; None becomes an empty cell.

    Timestamps read as on the site's pages, in UTC ("2026-11-27 14:47:05 UTC"): a CSV
    is for people and spreadsheets; NDJSON keeps the canonical text for programs.
    """
    writer = csv.writer(_Line())
    shown = utc_text()
    yield writer.writerow(EXPORT_COLUMNS)
    buffer: list[str] = []
    for (
        pk,
        sequence,
        timestamp,
        event_type,
        category,
        outcome,
        user_id,
        username,
        ip_address,
        user_agent,
        request_id,
        resource_type,
        resource_id,
        message,
        metadata,
    ) in source:
        # Numbers, timestamps and IP addresses cannot start a formula; text can.
        cells = (
            pk,
            sequence,
            shown(timestamp),
            _plain_text(event_type),
            _plain_text(category),
            _plain_text(outcome),
            user_id,
            _plain_text(username),
            ip_address,
            _plain_text(user_agent),
            _plain_text(request_id),
            _plain_text(resource_type),
            _plain_text(resource_id),
            _plain_text(message),
            _plain_text(metadata),
        )
        buffer.append(writer.writerow(cells))
        if len(buffer) >= 500:
            yield "".join(buffer)
            buffer.clear()
    if buffer:
        yield "".join(buffer)


# json.dumps(dict(zip(NDJSON_FIELDS, row)), ensure_ascii=False), spelled out: a test
# checks it byte for byte against json.dumps.
_NDJSON_LINE = (
    "{"
    + ", ".join(
        f'"{name}": {"%d" if name in ("id", "sequence", "leaf_index") else "%s"}'
        for name in NDJSON_FIELDS
    )
    + "}\n"
)


def _json_or_null(value: str | None) -> str:
    return "null" if value is None else _encode_string(value)


def ndjson_lines(source: Iterable[Sequence]) -> Iterator[str]:
    """Yield one JSON document per line from NDJSON_COLUMNS rows: NDJSON_FIELDS."""
    encode = _encode_string
    buffer: list[str] = []
    for (
        pk,
        sequence,
        timestamp,
        event_type,
        category,
        outcome,
        user_id,
        username,
        ip_address,
        user_agent,
        request_id,
        resource_type,
        resource_id,
        message,
        metadata,
        prev_hash,
    ) in source:
        line = _NDJSON_LINE % (
            pk,
            sequence,
            encode(timestamp),
            encode(event_type),
            encode(category),
            encode(outcome),
            "null" if user_id is None else user_id,
            encode(username),
            _json_or_null(ip_address),
            encode(user_agent),
            encode(request_id),
            encode(resource_type),
            encode(resource_id),
            encode(message),
            metadata,
            encode(prev_hash),
            sequence - 1,  # exports list sealed events only: the sequence is set
        )
        buffer.append(line)
        if len(buffer) >= 500:
            yield "".join(buffer)
            buffer.clear()
    if buffer:
        yield "".join(buffer)


# OCSF, one event per line: what ocsf_event maps, the chain link included (unmapped).
OCSF_COLUMNS = (*EXPORT_COLUMNS, "prev_hash", "hash", "key_id")


def ocsf_lines(source: Iterable[Sequence]) -> Iterator[str]:
    """Yield one OCSF 1.3 event per line from OCSF_COLUMNS rows (docs/siem.md, "OCSF")."""
    writer = this_writer(role="web")
    buffer: list[str] = []
    for row in source:
        document = dict(zip(OCSF_COLUMNS, row, strict=True))
        try:
            document["metadata"] = json.loads(document["metadata"])
        except (ValueError, RecursionError):
            # Written to the table directly (a 5,000-digit number, nesting 10,000 deep).
            document["metadata"] = dict(UNREADABLE_METADATA)
        document["leaf_index"] = document["sequence"] - 1
        event = ocsf_event(document, writer)
        buffer.append(json.dumps(event, ensure_ascii=False, sort_keys=True) + "\n")
        if len(buffer) >= 500:
            yield "".join(buffer)
            buffer.clear()
    if buffer:
        yield "".join(buffer)
