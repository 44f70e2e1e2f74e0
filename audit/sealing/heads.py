"""The chain head as the sealer reads and locks it, and the time of the newest sealed event."""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache

from django.db import connection
from django.db.models import OuterRef, Subquery

from ..chain import (
    GENESIS_HASH,
    HASHED_FIELDS,
)
from ..models import AuditEvent, ChainHead

# How far the stamp of an event may be from its writer's clock reading (in its writer
# MAC): clock skew between application hosts and the database, plus a slow INSERT.
# Beyond it the row is a copy of another event re-inserted later. Within it, a copy
# is linked like the original: see the README (Tamper evidence).
WRITER_CLOCK_TOLERANCE = timedelta(seconds=60)

_SEQUENCE = HASHED_FIELDS.index("sequence")
_TIMESTAMP = HASHED_FIELDS.index("timestamp")
_METADATA = HASHED_FIELDS.index("metadata")
_PREV_HASH = HASHED_FIELDS.index("prev_hash")
# Diagnostics, on standard error; the SIEM stream has a sink of its own (audit/siem).
logger = logging.getLogger("audit_sealer")

Head = tuple[int, str, datetime | None, str]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Seal:
    """One sealed batch: which events got which links, and when."""

    sealed_at: datetime
    links: list[tuple[int, int, str]]  # (event id, sequence, hash)
    prev_hashes: list[str]
    key_id: str
    key_change: AuditEvent | None = None

    @property
    def count(self) -> int:
        return len(self.links)


def head_row(heads) -> Head | None:
    """Return (sequence, hash, timestamp, key id) of the head in `heads`, or None.

    The timestamp is the head event's own, which its link covers. ChainHead.timestamp
    is a copy any database writer can move: to 2099, say, and the locked design then
    stamped every later event 2099 (the chain still verified), while a sealer trusting
    it would refuse every event as stamped before the head.
    """
    own = AuditEvent.objects.filter(sequence=OuterRef("sequence")).values("timestamp")[:1]
    columns = ("sequence", "hash", "own_timestamp", "key_id")
    try:
        return heads.annotate(own_timestamp=Subquery(own)).values_list(*columns).first()
    except ValueError:
        # SQLite: the head event's timestamp is not a date (verification names it).
        row = heads.values_list("sequence", "hash", "key_id").first()
        return (row[0], row[1], None, row[2]) if row else None


def lock_chain_head() -> Head:
    """Return the chain head's (sequence, hash, timestamp, key id), locked for the transaction."""
    head = ChainHead.objects.select_for_update().filter(pk=1)
    row = head_row(head)
    if row is None:
        # First event ever: create the row; a racing creator loses on the primary key.
        ChainHead.objects.get_or_create(pk=1, defaults={"hash": GENESIS_HASH})
        row = head_row(head)
    return row  # type: ignore[return-value]


class HeadMoved(Exception):
    """The chain head does not name the newest sealed event: a database writer moved it."""


def check_head_is_newest(head: Head) -> None:
    """Raise HeadMoved unless the head is the newest sealed event's (sequence, hash).

    ChainHead has no trigger (the sealer rewrites it every batch), so any role that may
    write the tables can set its hash or sequence. Sealing on from a moved head linked
    the next event to a hash no event has, or gave it a sequence already taken: the
    chain stayed broken there for good, every later verification failed at it and no
    HMAC checkpoint was signed again. Refused, sealing waits (the events stay recorded,
    unsealed) until the head is put back, and the chain is whole.
    """
    newest = (
        AuditEvent.objects.filter(sequence__isnull=False)
        .order_by("-sequence")
        .values_list("sequence", "hash")
        .first()
    )
    # A sealed event (sequence__isnull=False) has its hash.
    sequence, digest = newest or (0, GENESIS_HASH)
    if (head[0], head[1]) != (sequence, digest):
        raise HeadMoved(
            f"the chain head names #{head[0]} ({head[1][:16]}…) but the newest sealed event "
            f"is #{sequence} ({str(digest)[:16]}…): the chain head row was changed; "
            "nothing is sealed until it names the newest event again"
        )


@cache
def _head_timestamp_sql(vendor: str) -> str:
    """Return the SELECT of the head event's own timestamp, written once per backend.

    record_event reads it for every event on SQLite: built through the ORM (a subquery
    annotation) each time, it was most of what auditing added to a login there
    (docs/benchmarks-request-overhead.md).
    """
    quote = connection.ops.quote_name
    events, heads = quote(AuditEvent._meta.db_table), quote(ChainHead._meta.db_table)
    sequence = quote("sequence")
    return (
        f"SELECT e.{quote('timestamp')} FROM {heads} h "  # noqa: S608  # only quoted model names
        f"LEFT JOIN {events} e ON e.{sequence} = h.{sequence} WHERE h.{quote('id')} = 1"
    )


def head_timestamp() -> datetime | None:
    """Return the timestamp of the chain's newest event (None for an empty chain).

    The head event's own, as head_row reads it; None also when that is not a date.
    """
    with connection.cursor() as cursor:
        cursor.execute(_head_timestamp_sql(connection.vendor))
        try:
            row = cursor.fetchone()
        except ValueError:
            # SQLite: the head event's timestamp is not a date (verification names it).
            return None
    if row is None or row[0] is None:
        return None
    convert = getattr(connection.ops, "convert_datetimefield_value", None)
    try:
        # SQLite hands back naive UTC (or text); PostgreSQL an aware datetime.
        return convert(row[0], None, connection) if convert else row[0]
    except ValueError:
        return None


# A cutoff before every event: nothing is sealable until the round after.
BEFORE_EVERY_EVENT = datetime.min.replace(tzinfo=UTC)
