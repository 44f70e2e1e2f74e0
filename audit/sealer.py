"""Link committed audit events into the keyed chain, in batches, without a writers' lock.

record_event inserts an event unsealed (sequence, prev_hash and hash NULL) in the
caller's transaction and takes no shared lock. A sealer then takes the chain head,
reads committed unsealed events in (timestamp, id) order and fills in their links.

Which events are safe to seal: every event stamped before the cutoff has committed
(or rolled back), so no later commit can slot in before an already sealed event and
timestamps never run backwards along the chain.

- PostgreSQL stamps events with the database clock (clock_timestamp(), one clock for
  every host), always at or after the start of the inserting transaction. The cutoff
  is the start of the oldest transaction in this database that has written anything
  and is still running (pg_stat_activity), else now.
- SQLite has one writer at a time: a sealer holding the write lock (IMMEDIATE) knows
  every event stamped before now has committed.

Several sealers may run on any hosts: on PostgreSQL each batch goes to the one that
gets a transaction-scoped advisory lock (the others skip the round); on SQLite the
write lock already admits one at a time.
"""

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.db import connection, transaction

from .chain import GENESIS_HASH, HASHED_FIELDS, CanonicalMetadata, ChainKey, key_ring, link
from .events import KEY_CHANGE_EVENT, Outcome, category_for
from .expressions import stored_timestamp_text, values_as_text
from .models import AuditEvent, ChainHead
from .stream import publish_after_commit

# One advisory lock key for "the sealer of this database" (any 64-bit number works).
SEALER_LOCK = 0x61756469745F7365  # "audit_se"

_SEQUENCE = HASHED_FIELDS.index("sequence")
_TIMESTAMP = HASHED_FIELDS.index("timestamp")
_METADATA = HASHED_FIELDS.index("metadata")
_PREV_HASH = HASHED_FIELDS.index("prev_hash")
# Not "audit.*": that logger is the SIEM stream; seals go there, this is diagnostics.
logger = logging.getLogger("audit_sealer")
stream = logging.getLogger("audit")

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


def lock_chain_head() -> Head:
    """Return the chain head's (sequence, hash, timestamp, key id), locked for the transaction."""
    head = ChainHead.objects.select_for_update().filter(pk=1)
    row = head.values_list("sequence", "hash", "timestamp", "key_id").first()
    if row is None:
        # First event ever: create the row; a racing creator loses on the primary key.
        ChainHead.objects.get_or_create(pk=1, defaults={"hash": GENESIS_HASH})
        row = head.values_list("sequence", "hash", "timestamp", "key_id").get()
    return row


def sealing_cutoff() -> datetime:
    """Return the time before which every stamped event has committed or rolled back."""
    if connection.vendor != "postgresql":
        return utc_now()
    with connection.cursor() as cursor:
        # Backend status is cached per transaction; clear it to see the present.
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT LEAST(clock_timestamp(), ("
            " SELECT min(xact_start) FROM pg_stat_activity"
            " WHERE datname = current_database() AND backend_xid IS NOT NULL"
            " AND pid <> pg_backend_pid()))"
        )
        return cursor.fetchone()[0]


def take_sealer_lock() -> bool:
    """Return True if this transaction may seal (PostgreSQL: an advisory lock, no wait)."""
    if connection.vendor != "postgresql":
        return True  # SQLite's IMMEDIATE transaction already holds the write lock
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [SEALER_LOCK])
        return bool(cursor.fetchone()[0])


def allow_sealing(on: bool) -> None:
    """Tell the PostgreSQL trigger this transaction is the sealer (or no longer is)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('audit.sealing', %s, true)", ["on" if on else "off"])


def unsealed_rows(*, cutoff: datetime | None, limit: int, ids: list[int] | None = None):
    """Return (id, [HASHED_FIELDS values]) of unsealed events, oldest first."""
    queryset = AuditEvent.objects.filter(sequence__isnull=True)
    if ids is not None:
        # Inline: the writer's own event(s), in the order it recorded them.
        queryset = queryset.filter(pk__in=ids).order_by("id")
    else:
        queryset = queryset.order_by("timestamp", "id")
    if cutoff is not None:
        queryset = queryset.filter(timestamp__lt=cutoff)
    canonical = CanonicalMetadata()
    rows = []
    # The link is computed from the values as the verifier will read them back: the
    # database's canonical timestamp text and its JSON text made canonical.
    for values in values_as_text(queryset[:limit], ("id", *HASHED_FIELDS), chunk_size=limit):
        event_id, fields = values[0], list(values[1:])
        if fields[_TIMESTAMP] is None:
            fields[_TIMESTAMP] = stored_timestamp_text(AuditEvent, pk=event_id)
        fields[_METADATA] = canonical(fields[_METADATA])
        rows.append((event_id, fields))
    return rows


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
            ids, sequences, prevs, digests, key_ids = (
                list(column) for column in zip(*linked, strict=True)
            )
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


def seal_batch(*, limit: int | None = None, ids: list[int] | None = None) -> Seal | None:
    """Seal up to `limit` committed events; return the seal, or None if another sealer has it.

    With `ids` (the locked design, settings.AUDIT_SEALING = "inline"), seal exactly
    those events, now, in the caller's transaction: no cutoff, the head lock orders them.
    A change of chain key is linked first, also when there is nothing else to seal.
    """
    limit = limit or settings.AUDIT_SEAL_BATCH
    key = key_ring().signing
    with transaction.atomic():
        if ids is None and not take_sealer_lock():
            return None
        cutoff = None if ids is not None else sealing_cutoff()
        head = lock_chain_head()
        rows = unsealed_rows(cutoff=cutoff, limit=limit, ids=ids)
        changing_key = bool(head[0]) and head[3] != key.key_id
        if not rows and not changing_key:
            return Seal(sealed_at=utc_now(), links=[], prev_hashes=[], key_id=key.key_id)
        allow_sealing(True)
        linked: list[tuple] = []
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
            # key_change_row saved the event linked: its sequence and hash are set.
            head = (change.sequence, change.hash, change.timestamp, key.key_id)  # type: ignore[assignment]
            publish_after_commit(change)
        more, head = link_rows(rows=rows, head=head, key=key)
        linked += more
        write_links(more, head)
        allow_sealing(False)
        seal = Seal(
            sealed_at=utc_now(),
            links=[(pk, seq, digest) for pk, seq, _, digest, _ in linked],
            prev_hashes=[prev for _, _, prev, _, _ in linked],
            key_id=key.key_id,
            key_change=change,
        )
        if ids is None:
            # Inline seals go out with their event's own line; background ones separately.
            transaction.on_commit(lambda: publish_seal(seal))
    return seal


def switch_chain_key() -> AuditEvent | None:
    """Record the switch to the configured chain key now, if the head uses another.

    A sealing round like any other (with its cutoff), so events already committed are
    linked before or after the change in timestamp order, never out of it.
    """
    seal = seal_batch()
    return seal.key_change if seal else None


def publish_seal(seal: Seal) -> None:
    """Log which events a committed seal linked, as one JSON line on the SIEM stream."""
    # The events themselves went out when they committed; this line adds their place
    # in the chain. "events" is [[id, sequence, hash], ...].
    document = {
        "seal": {
            "sealed_at": seal.sealed_at.isoformat(),
            "key_id": seal.key_id,
            "first_sequence": seal.links[0][1],
            "last_sequence": seal.links[-1][1],
            "events": [list(item) for item in seal.links],
        }
    }
    stream.info(json.dumps(document, ensure_ascii=True, sort_keys=True))


def seal_pending(*, limit: int | None = None) -> int:
    """Seal batches until nothing sealable is left (or another sealer holds the lock).

    A batch smaller than the limit took everything sealable at its cutoff, so the round
    ends there: sealing again at once would link a handful of events per transaction
    and spend the writers' CPU on the sealer's round trips instead of theirs.
    """
    limit = limit or settings.AUDIT_SEAL_BATCH
    sealed = 0
    while True:
        seal = seal_batch(limit=limit)
        if seal is None:
            return sealed
        sealed += seal.count
        if seal.count < limit:
            return sealed


@dataclass(frozen=True)
class Backlog:
    """Events recorded but not yet linked into the chain."""

    count: int
    oldest_seconds: float | None

    def __str__(self) -> str:
        if not self.count:
            return "every event is sealed"
        return f"{self.count:,} events not yet sealed, oldest {self.oldest_seconds:.1f} s"


def unsealed_backlog() -> Backlog:
    """Return how many events wait for the sealer and how long the oldest has waited."""
    pending = AuditEvent.objects.filter(sequence__isnull=True).order_by("timestamp", "id")
    count = pending.count()
    oldest = pending.values_list("timestamp", flat=True).first()
    age = (utc_now() - oldest).total_seconds() if oldest else None
    return Backlog(count=count, oldest_seconds=max(age, 0.0) if age is not None else None)


def run_sealer(*, interval: float, stop=lambda: False) -> None:
    """Seal every `interval` seconds until `stop()` says so."""
    import time

    while not stop():
        started = time.monotonic()
        try:
            sealed = seal_pending()
            if sealed:
                logger.debug("sealed %d events", sealed)
        except Exception:  # a failed round is retried next round, never the end of the loop
            logger.exception("sealing failed; retrying")
        finally:
            connection.close_if_unusable_or_obsolete()
        time.sleep(max(0.0, interval - (time.monotonic() - started)))
