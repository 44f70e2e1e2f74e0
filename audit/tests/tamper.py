"""Helpers for integrity tests: build chains directly and tamper with them like a DBA.

Tampering goes through raw SQL with the PostgreSQL append-only triggers disabled for
the one statement, which is what someone holding the table owner's rights can do.
"""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from audit.chain import GENESIS_HASH, ChainKey, event_hash, key_ring, normalise_metadata
from audit.models import AuditEvent, ChainHead, MerkleNode, TreeCheckpoint
from audit.roles import SEALER_ROLE, acting_as
from audit.transparency.tree import catch_up

TABLE = AuditEvent._meta.db_table
is_postgresql = connection.vendor == "postgresql"


NODES = MerkleNode._meta.db_table
TREE_CHECKPOINTS = TreeCheckpoint._meta.db_table


@contextmanager
def triggers_disabled(table: str = TABLE) -> Iterator[None]:
    """Run the block with a table's append-only triggers off (PostgreSQL), in one transaction."""
    with transaction.atomic(), connection.cursor() as cursor:
        if is_postgresql:
            # Foreign keys (a cosignature's checkpoint) checked at once, not at commit:
            # a pending check would forbid enabling the triggers again.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        yield
        if is_postgresql:
            cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")


# Metadata both databases take for JSON (a number of 5,000 digits: jsonb's numeric, and
# SQLite's JSON functions, which its CHECK and the client_request_id index apply) but
# Python's json will not read (int() stops at 4,300 digits, a ValueError). JSON nested
# some 10,000 deep (a RecursionError) is another such text, on PostgreSQL.
UNREADABLE_JSON = '{"n": ' + "9" * 5000 + "}"


def raw_sql(sql: str, params: Sequence[Any] = (), *, table: str = TABLE) -> int:
    """Execute SQL against an audit table as a DBA would; return the row count.

    "{table}" in the SQL names the table: the events by default, or NODES (the Merkle
    tree) or TREE_CHECKPOINTS.
    """
    with triggers_disabled(table), connection.cursor() as cursor:
        cursor.execute(sql.replace("{table}", table), params)
        return cursor.rowcount


def insert_tree_checkpoint(*, size: int, root_hash: bytes, note: str) -> TreeCheckpoint:
    """Store a tree checkpoint as the table's owner could: its INSERT trigger off (PostgreSQL).

    Any other role is refused (migration 0023): only the sealer role stores checkpoints.
    """
    with triggers_disabled(TREE_CHECKPOINTS):
        return TreeCheckpoint.objects.create(
            size=size, root_hash=root_hash, note=note, created_at=timezone.now()
        )


def cut_tree(size: int) -> None:
    """Delete the Merkle tree's nodes beyond a tree of `size` leaves, as a DBA could."""
    # A node (level, index) covers leaves up to (index + 1) * 2**level - 1.
    beyond = [
        (level, index)
        for level, index in MerkleNode.objects.values_list("level", "index")
        if (index + 1) << level > size
    ]
    for level, index in beyond:
        raw_sql(
            'DELETE FROM {table} WHERE "level" = %s AND "index" = %s', [level, index], table=NODES
        )


def rebuild_tree_from(sequence: int) -> None:
    """Recompute the tree's nodes from an event on, from the rows as they are now.

    What a database writer does after rewriting or cutting events, so that the stored
    tree agrees with them again.
    """
    cut_tree(sequence - 1)
    newest = ChainHead.objects.values_list("sequence", flat=True).get(pk=1)
    with transaction.atomic():
        catch_up(head_sequence=newest)


def head() -> tuple[int, str]:
    """Return the chain head's (sequence, hash)."""
    return ChainHead.objects.values_list("sequence", "hash").get(pk=1)


def hash_of(sequence: int) -> str:
    # Found by its sequence, so sealed: the hash is set.
    return AuditEvent.objects.values_list("hash", flat=True).get(sequence=sequence)  # type: ignore[return-value]


def event_fields(sequence: int) -> dict[str, Any]:
    """Return the stored hashed fields of an event."""
    return dict(AuditEvent.objects.filter(sequence=sequence).values().get())


def append_chain(
    count: int,
    *,
    start: datetime | None = None,
    step: timedelta = timedelta(minutes=1),
    key: ChainKey | None = None,
    plain: bool = False,
) -> list[AuditEvent]:
    """Append correctly chained events stamped from ``start`` on; move the head.

    record_event stamps "now"; retention tests need events that are already old.
    Linked under ``key``, by default the configured signing key (as record_event does),
    or with ``plain`` as plain SHA-256 links, as written before keyed links existed.
    """
    key = None if plain else key or key_ring().signing
    key_id = key.key_id if key else ""
    current = ChainHead.objects.filter(pk=1).values_list("sequence", "hash").first()
    sequence, prev_hash = current if current else (0, GENESIS_HASH)
    moment = start or timezone.now()
    events = []
    for number in range(count):
        sequence += 1
        fields = {
            "sequence": sequence,
            "timestamp": moment + step * number,
            "event_type": "task_create",
            "category": "task",
            "outcome": "success",
            "username": f"seed{sequence}",
            "ip_address": "192.0.2.10",
            "user_agent": "seed/1.0",
            "request_id": f"req-{sequence}",
            "resource_type": "task",
            "resource_id": str(sequence),
            "message": f"Seeded event {sequence}",
            "metadata": normalise_metadata({"n": sequence, "note": "ünïcode ✓"}),
            "prev_hash": prev_hash,
        }
        fields["hash"] = prev_hash = event_hash(fields, key)
        events.append(AuditEvent(key_id=key_id, **fields))
    # Already linked rows: the trigger admits them only from the sealer's role; the
    # test's own transaction goes on as its own role afterwards.
    with acting_as(SEALER_ROLE):
        AuditEvent.objects.bulk_create(events)
    last = events[-1]
    # The seeded events are linked: their sequence and hash are set.
    ChainHead.objects.update_or_create(  # type: ignore[misc]
        pk=1,
        defaults={
            "sequence": last.sequence,
            "hash": last.hash,
            "timestamp": last.timestamp,
            "key_id": last.key_id,
        },
    )
    with transaction.atomic():
        # Their leaves, as the sealer appends them when it links events.
        catch_up(head_sequence=last.sequence)  # type: ignore[arg-type]
    return events


def rehash_from(sequence: int, *, key: ChainKey | None = None, plain: bool = False) -> None:
    """Recompute prev_hash and hash from an event onwards and move the head: a full rewrite.

    What an attacker who knows the algorithm does after editing a row. Without ``key``
    (someone with database access only) the links are plain SHA-256 under the rows'
    key ids, or under an empty key id with ``plain``; with it, a key holder's rewrite.
    """
    previous = (
        AuditEvent.objects.filter(sequence__lt=sequence)
        .order_by("-sequence")
        .values_list("hash", flat=True)
        .first()
    ) or GENESIS_HASH
    rows = list(AuditEvent.objects.filter(sequence__gte=sequence).order_by("sequence").values())
    with triggers_disabled(), connection.cursor() as cursor:
        for row in rows:
            row["prev_hash"] = previous
            row["hash"] = previous = event_hash(row, key)
            if key is not None:
                row["key_id"] = key.key_id
            elif plain:
                row["key_id"] = ""
            cursor.execute(
                f"UPDATE {TABLE} SET prev_hash = %s, hash = %s, key_id = %s "  # noqa: S608
                "WHERE id = %s",
                [row["prev_hash"], row["hash"], row["key_id"], row["id"]],
            )
    if rows:
        ChainHead.objects.filter(pk=1).update(sequence=rows[-1]["sequence"], hash=previous)
