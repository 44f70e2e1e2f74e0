"""Link a batch of committed events into the chain and the tree (the loop streams them after)."""

from datetime import datetime

from django.conf import settings
from django.db import connection, transaction

from ..chain import (
    HASHED_FIELDS,
    ChainKey,
    key_ring,
    link,
)
from ..events import KEY_CHANGE_EVENT, Outcome, category_for
from ..lease import LeaseHolder, sealer_lease
from ..models import AuditEvent, ChainHead
from ..roles import SEALER_ROLE, acting_as
from ..transparency.tree import append_sealed, catch_up, event_leaf_hash, tree_size
from .cutoff import sealing_cutoff
from .heads import (
    _PREV_HASH,
    _SEQUENCE,
    _TIMESTAMP,
    Head,
    Seal,
    check_head_is_newest,
    lock_chain_head,
    utc_now,
)
from .refusals import unsealed_rows, warn_refused


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
        if ids is None:
            # Not inline: there the writer's own action would fail with it (README).
            check_head_is_newest(head)
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
        # The one role the triggers let link events (migration 0021), for these writes.
        with acting_as(SEALER_ROLE):
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
                linked.append(
                    (change.pk, change.sequence, change.prev_hash, change.hash, key.key_id)
                )
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
