"""Database expressions that render audit columns as the trail's canonical text."""

from collections.abc import Generator, Sequence

from django.db import NotSupportedError
from django.db.models import CharField, F, Func, QuerySet, TextField
from django.db.models.functions import Cast

from .chain import canonical_timestamp


class CanonicalTimestampText(Func):
    """A timestamp as audit.chain.canonical_timestamp writes it, rendered by the database.

    Exports and verification read a million timestamps; parsing each into a datetime only
    to format it again was a fifth of their time. Years below 1000 come out unpadded, as
    canonical_timestamp (strftime) writes them, so hashes match for every year. NULL
    where the stored text is not in the form Django writes; see stored_timestamp_text.
    """

    output_field = CharField()

    def as_sql(self, compiler, connection, **extra_context):
        raise NotSupportedError(
            "Canonical timestamp text is written for PostgreSQL and SQLite, "
            f"not {connection.vendor}."
        )

    def as_postgresql(self, compiler, connection, **extra_context):
        sql, params = compiler.compile(self.source_expressions[0])
        # FM applies to YYYY alone: no leading zeros on the year, every other field padded.
        template = '\'FMYYYY-MM-DD"T"HH24:MI:SS.US"Z"\''
        return f"to_char({sql} AT TIME ZONE 'UTC', {template})", params

    def as_sqlite(self, compiler, connection, **extra_context):
        # Django stores str(datetime) in UTC: "YYYY-MM-DD HH:MM:SS[.ffffff]", the year
        # zero-padded and the fraction left out when it is zero. Anything else (a row
        # written by hand, say with "+00:00") gives NULL: callers read that one value
        # through the ORM, which parses it as Django always has.
        sql, params = compiler.compile(self.source_expressions[0])
        seconds = "[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9] [0-9][0-9]:[0-9][0-9]:[0-9][0-9]"
        rendered = f"ltrim(substr({sql}, 1, 4), '0') || replace(substr({sql}, 5), ' ', 'T')"
        text = (
            f"CASE WHEN {sql} GLOB '{seconds}' THEN {rendered} || '.000000Z' "
            f"WHEN {sql} GLOB '{seconds}.[0-9][0-9][0-9][0-9][0-9][0-9]' THEN {rendered} || 'Z' "
            "END"
        )
        return text, (*params,) * 6


def stored_timestamp_text(model, **lookup) -> str:
    """Return canonical_timestamp of one row's timestamp, read through the ORM.

    For the rare row CanonicalTimestampText gives NULL for (on SQLite, a timestamp not
    written by Django). Raises ValueError if Django cannot read it either.
    """
    value = model.objects.values_list("timestamp", flat=True).get(**lookup)
    if value is None:  # SQLite text Django's parse_datetime does not recognise
        raise ValueError("not a date and time")
    return canonical_timestamp(value)


def values_as_text(
    queryset: QuerySet, columns: Sequence[str], *, chunk_size: int
) -> Generator[tuple, None, None]:
    """Stream values_list(*columns) with "timestamp" and "metadata" as the database's text.

    The timestamp comes as CanonicalTimestampText (None where stored_timestamp_text must
    read it) and the metadata as its JSON text, so no datetime or dict is built per row.
    """
    as_text = {"timestamp": "timestamp_text", "metadata": "metadata_text"}
    return (
        queryset.annotate(
            timestamp_text=CanonicalTimestampText("timestamp"),
            metadata_text=Cast("metadata", TextField()),
        )
        .values_list(*(as_text.get(name, name) for name in columns))
        .iterator(chunk_size=chunk_size)
    )


class FoldedUsername(Func):
    """A username folded to lower case, compared byte by byte: the key of prefix search.

    PostgreSQL collates text by the database's locale, in which a range of strings is
    not a range of prefixes; "C" collation orders by code point, as SQLite does, so
    `key >= 'ali' AND key < 'ali' || U+10FFFF` is exactly "starts with ali" and an
    index on the same expression answers it (audit_username_folded). Both sides are
    folded by the database, so they agree on what lower case is.
    """

    function = "LOWER"
    output_field = CharField()

    def as_postgresql(self, compiler, connection, **extra_context):
        sql, params = super().as_sql(compiler, connection, **extra_context)
        return f'({sql} COLLATE "C")', params


# Sorts after every character a username holds: the upper end of a prefix range.
LAST_CHARACTER = "\U0010ffff"


class MetadataText(Func):
    """One top-level key of an event's metadata as text, the key written into the SQL.

    For an index on a key (audit_client_request): SQLite matches an indexed expression
    only when a query repeats it exactly, and Django's KT passes the JSON path as a
    parameter, so a query through KT never uses an index built from it.
    """

    output_field = TextField()

    def __init__(self, key: str, **extra) -> None:
        if not key.isidentifier():  # written into the SQL: a plain name, nothing to quote
            raise ValueError(f"Not a plain metadata key: {key!r}")
        self.key = key
        super().__init__(F("metadata"), **extra)

    def deconstruct(self):
        path, _, kwargs = super().deconstruct()
        return path, (self.key,), kwargs

    def as_sql(self, compiler, connection, **extra_context):
        raise NotSupportedError(
            f"Metadata text is written for PostgreSQL and SQLite, not {connection.vendor}."
        )

    def as_postgresql(self, compiler, connection, **extra_context):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"({sql} ->> '{self.key}')", params

    def as_sqlite(self, compiler, connection, **extra_context):
        sql, params = compiler.compile(self.source_expressions[0])
        # ->> gives SQL text for a JSON string, as PostgreSQL's does (SQLite 3.38+).
        return f"({sql} ->> '$.{self.key}')", params
