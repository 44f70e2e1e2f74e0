"""Link committed audit events into the keyed chain, in batches, without a writers' lock.

record_event inserts an event unsealed (sequence, prev_hash and hash NULL) in the
caller's transaction and takes no shared lock. A sealer then takes the chain head,
reads committed unsealed events in (timestamp, id) order and fills in their links.

Which events are safe to seal: every event stamped before the cutoff has committed
(or rolled back), so no later commit can slot in before an already sealed event and
timestamps never run backwards along the chain.

- PostgreSQL stamps events with the database clock (clock_timestamp(), one clock for
  every host), always at or after the start of the inserting transaction. The cutoff
  is the start of the oldest transaction still holding a lock on the event table (a
  writer of events, pg_locks), else now: one that wrote other tables only is no reason
  to wait (sealing_cutoff says why that is enough).
- SQLite has one writer at a time: a sealer holding the write lock (IMMEDIATE) knows
  every event stamped before now has committed.

Several sealers may run on any hosts: each batch goes to the one holding the sealer
lease (audit/lease.py), renewed in the batch's own transaction with a generation that
fences out a holder once another took over; the others stand by until it expires.
"""

import hmac
import logging
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import OuterRef, Subquery

from .chain import (
    GENESIS_HASH,
    HASHED_FIELDS,
    CanonicalMetadata,
    ChainKey,
    KeyRing,
    canonical_timestamp,
    key_ring,
    link,
    writer_mac,
)
from .events import KEY_CHANGE_EVENT, Outcome, category_for
from .expressions import stored_timestamp_text, values_as_text
from .lease import LeaseHolder, database_now, sealer_lease
from .models import AuditEvent, ChainHead
from .outage import CONNECTION_LOST, wait_for_database
from .siem.streamer import stream_round
from .transparency.tree import append_sealed, catch_up, event_leaf_hash, tree_size

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
_hidden_writers: set[int] = set()


def sealing_cutoff() -> datetime:
    """Return the time before which every stamped event has committed or rolled back.

    PostgreSQL: the start of the oldest transaction that holds (or waits for) a
    RowExclusiveLock on the event table, else now. Only such a transaction can still
    commit an event: an INSERT takes that lock on its target table when the statement
    is parsed (or, prepared, before its plan runs), before clock_timestamp() in its
    VALUES is evaluated, and keeps it to the end of its transaction. Verified with a
    SHARE lock held on the table: plain, PREPAREd, driver-prepared INSERTs and a column
    default all stamped after it was released (audit/tests/test_sealer.py). So an event
    stamped before `now` below was inserted by a transaction that held the lock at
    `now`: still open, it is among the lock holders read after it, its stamp no earlier
    than its start; ended, it committed or rolled back. Transactions that wrote only
    other tables (a temp table in psql, a slow job) are none of the sealer's business:
    waiting for them let any session keep every new event unsealed for as long as it
    liked. Prepared transactions (2PC) hold locks with no session: Django prepares
    none, and max_prepared_transactions is 0 by default.
    """
    if connection.vendor != "postgresql":
        return utc_now()
    table = connection.ops.quote_name(AuditEvent._meta.db_table)
    with connection.cursor() as cursor:
        # The clock first, in a statement of its own: a writer that takes the lock after
        # the locks below are read stamps after this reading, never before the cutoff.
        # Backend status is cached per transaction; clear it to see the present.
        cursor.execute("SELECT clock_timestamp(), pg_stat_clear_snapshot()")
        now = cursor.fetchone()[0]
        # A holder missing from pg_stat_activity, or shown there with no transaction
        # (idle, or active between its commit and its next query), ended its transaction
        # or began one after `now` between the two reads: nothing to wait for. One whose
        # state is hidden (NULL: another role's session, to a login without
        # pg_read_all_stats) or not tracked (track_activities off) may have stamped at
        # any time: wait for it to end.
        cursor.execute(
            "SELECT min(activity.xact_start), array_agg(held.pid) FILTER (WHERE"
            " activity.xact_start IS NULL"
            " AND (activity.state IS NULL OR activity.state = 'disabled'))"
            " FROM pg_locks AS held JOIN pg_stat_activity AS activity USING (pid)"
            " WHERE held.locktype = 'relation' AND held.mode = 'RowExclusiveLock'"
            " AND held.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            " AND held.relation = %s::regclass AND held.pid <> pg_backend_pid()",
            [table],
        )
        oldest, hidden = cursor.fetchone()
    if hidden:
        warn_hidden_writers(hidden)
        return BEFORE_EVERY_EVENT
    return min(now, oldest) if oldest is not None else now


def warn_hidden_writers(pids: list[int]) -> None:
    """Say once per session that a writer's transaction start is hidden from this login."""
    new = set(pids) - _hidden_writers
    if not new:
        return
    _hidden_writers.update(new)
    logger.warning(
        "sealing waits for the transactions of pids %s, which hold the audit event table "
        "and whose start this database login cannot see: grant pg_read_all_stats to the "
        "sealer's login (or connect every host as one role), and keep track_activities on",
        ", ".join(map(str, sorted(new))),
    )


# The one role the PostgreSQL triggers let link events (migration 0020): a setting any
# session may make would let any session link rows with links of its choosing. Only its
# members and superusers may switch to it: the login the sealer runs as.
SEALER_ROLE = "audit_sealer"


class SealerRoleError(Exception):
    """This database login may not act as the sealer role."""


def allow_sealing(on: bool) -> None:
    """Act as the sealer role for the rest of this transaction (PostgreSQL), or stop."""
    if connection.vendor != "postgresql":
        return
    if not connection.in_atomic_block:
        # SET LOCAL outside a transaction changes nothing: the writes would be refused.
        raise SealerRoleError("Events are sealed only inside the sealer's transaction.")
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        if not on:
            role = getattr(connection, "audit_role_before_sealing", None)
            if role is not None:
                cursor.execute(f"SET LOCAL ROLE {quote(role)}")
            return
        cursor.execute("SELECT current_user")
        (role,) = cursor.fetchone()
        if role == SEALER_ROLE:
            return
        try:
            cursor.execute(f"SET LOCAL ROLE {quote(SEALER_ROLE)}")
        except DatabaseError as error:
            raise SealerRoleError(
                f"Cannot act as the database role {SEALER_ROLE} that may link audit events "
                f"({str(error).strip()}). Grant it to the login the sealer runs as (README, "
                "Retention and roles)."
            ) from error
        # Per connection (each thread has its own): the role to return to.
        setattr(connection, "audit_role_before_sealing", role)  # noqa: B010


@dataclass(frozen=True)
class Refusal:
    """An unsealed row the sealer will not link, and why."""

    event_id: int
    reason: str

    def __str__(self) -> str:
        return f"unsealed event id {self.event_id} {self.reason}"


def writer_tag(event: AuditEvent, *, stamp: datetime) -> str:
    """Return what record_event stores in writer_mac: "<key id> <stamp> <MAC>".

    `stamp` is the writer's clock: the row's own timestamp where the application
    stamps it, else the time just before the INSERT that the database stamps.
    """
    key = key_ring().signing
    written = canonical_timestamp(stamp)
    values = [getattr(event, name) for name in HASHED_FIELDS]
    values[_SEQUENCE], values[_TIMESTAMP], values[_PREV_HASH] = 0, written, ""
    return f"{key.key_id} {written} {writer_mac(tuple(values), key)}"


def refusal_reason(fields: list, tag: str, *, head: Head, ring: KeyRing) -> str | None:
    """Return why an unsealed row (HASHED_FIELDS, timestamp as text) must not be linked.

    Only record_event writes rows the sealer may link: it holds the chain key and MACs
    every event it writes (writer_tag). Anything else is someone's INSERT or UPDATE.
    Linked, it would pass for a genuine event or, stamped before the head, break the
    chain for good (every later verification and checkpoint would stop at it).
    """
    text = fields[_TIMESTAMP]
    stamp = parse_timestamp(text) if text is not None else None
    if stamp is None:
        return "has a timestamp that is not a date and time"
    key_id, _, rest = (tag or "").partition(" ")
    written, _, digest = rest.partition(" ")
    written_at = parse_timestamp(written) if written else None
    if not digest or written_at is None:
        return "has no writer MAC (not recorded by record_event)"
    key = ring.get(key_id)
    if key is None:
        return f"has a writer MAC under key id {key_id!r}, which AUDIT_CHAIN_KEYS does not hold"
    values = list(fields)
    values[_SEQUENCE], values[_TIMESTAMP], values[_PREV_HASH] = 0, written, ""
    if not hmac.compare_digest(writer_mac(tuple(values), key), digest):
        return (
            "has a writer MAC that does not match its fields "
            "(changed after record_event wrote it, or not written by it)"
        )
    if head[2] is not None and stamp < head[2]:
        return f"is stamped before the chain head #{head[0]} ({text})"
    drift = abs((stamp - written_at).total_seconds())
    if drift > WRITER_CLOCK_TOLERANCE.total_seconds():
        return (
            f"is stamped {drift:,.0f} s from when its writer recorded it ({written}): "
            "a copy of another event"
        )
    return None


def parse_timestamp(text: str) -> datetime | None:
    """Return the datetime of a canonical timestamp text, or None if it is not one."""
    try:
        return datetime.fromisoformat(text)
    except ValueError:  # "…T19:32:60…", a year below 1000 (unpadded): none is genuine
        return None


def read_unsealed(queryset, *, limit: int) -> Iterator[tuple[int, list, str]]:
    """Yield (id, [HASHED_FIELDS values], writer MAC) of the queryset's events."""
    canonical = CanonicalMetadata()
    # The link is computed from the values as the verifier will read them back: the
    # database's canonical timestamp text and its JSON text made canonical.
    columns = ("id", *HASHED_FIELDS, "writer_mac")
    for values in values_as_text(queryset[:limit], columns, chunk_size=limit):
        event_id, fields, tag = values[0], list(values[1:-1]), values[-1]
        if fields[_TIMESTAMP] is None:
            with suppress(ValueError):  # left None: refused as not a date and time
                fields[_TIMESTAMP] = stored_timestamp_text(AuditEvent, pk=event_id)
        fields[_METADATA] = canonical(fields[_METADATA])
        yield event_id, fields, tag


def unsealed_rows(
    *,
    cutoff: datetime | None,
    limit: int,
    head: Head,
    ring: KeyRing,
    ids: list[int] | None = None,
) -> tuple[list[tuple[int, list]], list[Refusal]]:
    """Return up to `limit` unsealed events to link, oldest first, and those refused."""
    queryset = AuditEvent.objects.filter(sequence__isnull=True)
    if ids is not None:
        # Inline: the writer's own event(s), in the order it recorded them.
        queryset = queryset.filter(pk__in=ids).order_by("id")
    else:
        queryset = queryset.order_by("timestamp", "id")
        if head[2] is not None:
            # Rows stamped before the head can never be linked; reading them again
            # every round would only cost (verification reports them).
            queryset = queryset.filter(timestamp__gte=head[2])
    if cutoff is not None:
        queryset = queryset.filter(timestamp__lt=cutoff)
    rows: list[tuple[int, list]] = []
    refused: list[Refusal] = []
    offset = 0
    # A page full of refused rows does not end the round: rows behind it would starve.
    while len(rows) < limit:
        page = list(read_unsealed(queryset[offset:], limit=limit))
        offset += len(page)
        for event_id, fields, tag in page:
            reason = refusal_reason(fields, tag, head=head, ring=ring)
            if reason is None:
                rows.append((event_id, fields))
            else:
                refused.append(Refusal(event_id, reason))
        if len(page) < limit:
            break
    return rows[:limit], refused


def refused_events(*, limit: int = 100_000) -> list[Refusal]:
    """Return the unsealed rows the sealer will not link (of the oldest `limit`)."""
    head = head_row(ChainHead.objects.filter(pk=1)) or (0, GENESIS_HASH, None, "")
    ring = key_ring()
    queryset = AuditEvent.objects.filter(sequence__isnull=True).order_by("timestamp", "id")
    refused = []
    for event_id, fields, tag in read_unsealed(queryset, limit=limit):
        reason = refusal_reason(fields, tag, head=head, ring=ring)
        if reason is not None:
            refused.append(Refusal(event_id, reason))
    return refused


_warned: set[int] = set()


def warn_refused(refused: list[Refusal]) -> None:
    """Log each refused row once per process (it is met again until the head passes it)."""
    if len(_warned) > 100_000:  # a flood of forged rows: say it again rather than grow
        _warned.clear()
    for refusal in refused:
        if refusal.event_id not in _warned:
            _warned.add(refusal.event_id)
            logger.error("not sealing %s", refusal)


def key_change_row(*, head: Head, key: ChainKey, stamp: datetime) -> AuditEvent:
    """Insert the event that switches the chain to `key`, linked after `head`."""
    previous = head[3] or "sha256"
    fields = {
        "sequence": head[0] + 1,
        "timestamp": stamp,
        "event_type": KEY_CHANGE_EVENT,
        "category": str(category_for(KEY_CHANGE_EVENT)),
        "outcome": str(Outcome.SUCCESS),
        "username": "",
        "ip_address": None,
        "user_agent": "",
        "request_id": "",
        "resource_type": "audit_chain",
        "resource_id": key.key_id,
        "message": f"Chain links from #{head[0] + 1} on are keyed with {key.key_id} "
        f"(before: {previous})",
        "metadata": {"key_id": key.key_id, "previous_key_id": head[3]},
        "prev_hash": head[1],
    }
    values = tuple(fields[name] for name in HASHED_FIELDS)
    event = AuditEvent(key_id=key.key_id, hash=link(values, key), **fields)
    event.save()
    return event


def link_rows(*, rows, head: Head, key: ChainKey) -> tuple[list[tuple], Head]:
    """Return the (id, sequence, prev_hash, hash, key id) of rows linked after `head`."""
    sequence, prev_hash, stamp, _ = head
    linked = []
    for event_id, fields in rows:
        sequence += 1
        fields[_SEQUENCE] = sequence
        fields[_PREV_HASH] = prev_hash
        prev_hash = link(tuple(fields), key)
        linked.append((event_id, sequence, fields[_PREV_HASH], prev_hash, key.key_id))
        stamp = fields[_TIMESTAMP]
    if isinstance(stamp, str):
        stamp = datetime.fromisoformat(stamp)
    return linked, (sequence, prev_hash, stamp, key.key_id)


def write_links(linked: list[tuple], head: Head) -> None:
    """Fill in the links of the sealed rows and move the chain head, in this transaction."""
    quote = connection.ops.quote_name
    table = quote(AuditEvent._meta.db_table)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql" and linked:
            # One statement for the whole batch: a round trip per row cost the sealer
            # (and the writers sharing its CPU) more than linking the rows did.
            columns = (list(column) for column in zip(*linked, strict=True))
            ids, sequences, prevs, digests, key_ids = columns
            cursor.execute(
                f"UPDATE {table} AS event SET sequence = batch.sequence, "  # noqa: S608
                "prev_hash = batch.prev_hash, hash = batch.hash, key_id = batch.key_id "
                "FROM unnest(%s::bigint[], %s::bigint[], %s::text[], %s::text[], %s::text[]) "
                "AS batch(id, sequence, prev_hash, hash, key_id) "
                "WHERE event.id = batch.id AND event.sequence IS NULL",
                [ids, sequences, prevs, digests, key_ids],
            )
        else:
            cursor.executemany(
                f"UPDATE {table} SET {quote('sequence')} = %s, {quote('prev_hash')} = %s, "  # noqa: S608
                f"{quote('hash')} = %s, {quote('key_id')} = %s "
                f"WHERE {quote('id')} = %s AND {quote('sequence')} IS NULL",
                [(seq, prev, digest, key_id, pk) for pk, seq, prev, digest, key_id in linked],
            )
    ChainHead.objects.filter(pk=1).update(
        sequence=head[0], hash=head[1], timestamp=head[2], key_id=head[3]
    )


class SealRefused(Exception):
    """The writer's own event cannot be linked (inline sealing): a bug, never tampering."""


def seal_batch(
    *, limit: int | None = None, ids: list[int] | None = None, lease: LeaseHolder | None = None
) -> Seal | None:
    """Seal up to `limit` committed events; return the seal, or None if another sealer has it.

    With `ids` (the locked design, settings.AUDIT_SEALING = "inline"), seal exactly
    those events, now, in the caller's transaction: no cutoff, the head lock orders them.
    Otherwise only while holding `lease` (this process's sealer lease by default),
    renewed in this transaction. A change of chain key is linked first, also when there
    is nothing else to seal.
    """
    limit = limit or settings.AUDIT_SEAL_BATCH
    ring = key_ring()
    key = ring.signing
    with transaction.atomic():
        if ids is None and not (lease or sealer_lease).hold():
            return None
        cutoff = None if ids is not None else sealing_cutoff()
        head = lock_chain_head()
        rows, refused = unsealed_rows(cutoff=cutoff, limit=limit, head=head, ring=ring, ids=ids)
        if refused and ids is not None:
            # record_event stamps its own event under the head lock, never before it.
            raise SealRefused(f"{refused[0]}")
        warn_refused(refused)
        changing_key = bool(head[0]) and head[3] != key.key_id
        if not rows and not changing_key:
            if head[0] > tree_size():
                # Sealed before the tree existed (an upgrade) or seeded in bulk: catch up.
                catch_up(head_sequence=head[0])
            return Seal(sealed_at=utc_now(), links=[], prev_hashes=[], key_id=key.key_id)
        allow_sealing(True)
        linked: list[tuple] = []
        # The Merkle tree's leaves of the events linked here, in sequence order.
        leaves: list[bytes] = []
        change = None
        if changing_key:
            # A new chain key is itself a link: verification accepts a change of key
            # only at such an event. Stamped no earlier than the head and no later than
            # the first event it precedes, so timestamps never run backwards.
            if rows:
                first = rows[0][1][_TIMESTAMP]
                stamp = datetime.fromisoformat(first) if isinstance(first, str) else first
            else:
                stamp = max(filter(None, (head[2], cutoff or utc_now())))
            change = key_change_row(head=head, key=key, stamp=stamp)
            linked.append((change.pk, change.sequence, change.prev_hash, change.hash, key.key_id))
            leaves.append(event_leaf_hash([getattr(change, name) for name in HASHED_FIELDS]))
            # key_change_row saved the event linked: its sequence and hash are set.
            head = (change.sequence, change.hash, change.timestamp, key.key_id)  # type: ignore[assignment]
        more, head = link_rows(rows=rows, head=head, key=key)
        linked += more
        write_links(more, head)
        # link_rows filled in each row's sequence and prev_hash: the fields are the link's.
        leaves += [event_leaf_hash(fields) for _, fields in rows]
        # In this transaction, under the head lock: the tree's size is the head's sequence.
        append_sealed(first_sequence=linked[0][1], leaf_hashes=leaves)
        allow_sealing(False)
        seal = Seal(
            sealed_at=utc_now(),
            links=[(pk, seq, digest) for pk, seq, _, digest, _ in linked],
            prev_hashes=[prev for _, _, prev, _, _ in linked],
            key_id=key.key_id,
            key_change=change,
        )
    return seal


def switch_chain_key() -> AuditEvent | None:
    """Record the switch to the configured chain key now, if the head uses another.

    A sealing round like any other (with its cutoff), so events already committed are
    linked before or after the change in timestamp order, never out of it.
    """
    seal = seal_batch()
    return seal.key_change if seal else None


def seal_pending(*, limit: int | None = None, lease: LeaseHolder | None = None) -> int:
    """Seal batches until nothing sealable is left (or another sealer holds the lock).

    A batch smaller than the limit took everything sealable at its cutoff, so the round
    ends there: sealing again at once would link a handful of events per transaction
    and spend the writers' CPU on the sealer's round trips instead of theirs.
    """
    limit = limit or settings.AUDIT_SEAL_BATCH
    sealed = 0
    while True:
        seal = seal_batch(limit=limit, lease=lease)
        if seal is None:
            return sealed
        sealed += seal.count
        if seal.count < limit:
            return sealed


# A stamp this far past the clock verification reads is a writer's clock running ahead
# (not the moment between a writer's stamp and the reading).
FUTURE_TOLERANCE = timedelta(seconds=1)


@dataclass(frozen=True)
class Backlog:
    """Events recorded but not yet linked into the chain."""

    count: int
    oldest_seconds: float | None  # of those not stamped in the future
    refused: int = 0  # unsealed rows stamped before the chain head: never to be linked
    ahead: int = 0  # stamped in the future: not sealable until the clock gets there
    ahead_seconds: float | None = None  # how far the furthest of them is ahead

    def __str__(self) -> str:
        waiting = (
            f"{self.count:,} events not yet sealed, oldest {self.oldest_seconds or 0.0:.1f} s"
            if self.count
            else "every event is sealed"
        )
        if self.ahead:
            furthest = f" up to {self.ahead_seconds:,.1f} s" if self.ahead_seconds else ""
            waiting += f" ({self.ahead:,} stamped{furthest} in the future)"
        if self.refused:
            waiting += (
                f"; {self.refused:,} unsealed events stamped before the chain head "
                "will never be (verify_audit_chain names them)"
            )
        return waiting


def stamp_of_first(queryset) -> datetime | None:
    """Return the timestamp of the queryset's first event, or None (or not a time)."""
    # As text: on SQLite a row written by hand may hold a time that is no time at all.
    text = next(values_as_text(queryset[:1], ("timestamp",), chunk_size=1), (None,))[0]
    return parse_timestamp(text) if text else None


def unsealed_backlog() -> Backlog:
    """Return how many events wait for the sealer and how long the oldest has waited.

    Ages are read on the clock that stamps events (the database's on PostgreSQL), and
    events stamped ahead of it are counted apart: a writer whose clock runs ahead would
    otherwise show as a backlog 0.0 s old while its events stay unsealed and unlisted.
    """
    now = database_now()
    unsealed = AuditEvent.objects.filter(sequence__isnull=True)
    stamp = head_timestamp()
    waiting = unsealed.filter(timestamp__gte=stamp) if stamp is not None else unsealed
    count = waiting.count()
    refused = unsealed.count() - count if stamp is not None else 0
    future = waiting.filter(timestamp__gt=now + FUTURE_TOLERANCE)
    ahead = future.count() if count else 0
    furthest = stamp_of_first(future.order_by("-timestamp", "-id")) if ahead else None
    due = waiting.filter(timestamp__lte=now + FUTURE_TOLERANCE).order_by("timestamp", "id")
    oldest = stamp_of_first(due) if count > ahead else None
    age = (now - oldest).total_seconds() if oldest else None
    return Backlog(
        count=count,
        oldest_seconds=max(age, 0.0) if age is not None else None,
        refused=refused,
        ahead=ahead,
        ahead_seconds=(furthest - now).total_seconds() if furthest else None,
    )


def run_sealer(*, interval: float, stop=lambda: False) -> None:
    """Seal, then stream what is sealed, every `interval` seconds until `stop()` says so.

    On the way out (stop, Ctrl-C, SIGTERM turned into a stop) the sealer lease is given
    up, so a standby sealer seals at its next round rather than after the lease expires.
    """
    import time

    try:
        while not stop():
            started = time.monotonic()
            try:
                sealed = seal_pending()
                if sealed:
                    logger.debug("sealed %d events", sealed)
                # Also with AUDIT_SEALING=inline: the sealer is the stream's one writer.
                stream_round(lease=sealer_lease)
            except CONNECTION_LOST as error:  # a database restart: wait, not a traceback a round
                wait_for_database(error, what="Audit sealer", logger=logger, stop=stop)
            except Exception:  # a failed round is retried next round, never the end of the loop
                logger.exception("sealing failed; retrying")
            finally:
                connection.close_if_unusable_or_obsolete()
            time.sleep(max(0.0, interval - (time.monotonic() - started)))
    finally:
        release_lease()


def release_lease() -> None:
    """Give up this process's sealer lease; if the database will not hear it, let it expire."""
    try:
        sealer_lease.release()
    except Exception as error:  # the way out of a lost database or an interrupted query
        logger.warning(
            "could not release the sealer lease (%s): a standby takes over once it expires",
            error,
        )
    finally:
        connection.close_if_unusable_or_obsolete()
