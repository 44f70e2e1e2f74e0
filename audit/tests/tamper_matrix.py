"""The tamper matrix: what each attacker does to a trail, and what verification must say.

One trail for every case (build_trail): #1-#3 linked under key k1, #4 the rotation to
k2, #5-#12 under k2; checkpoints of #3 and #8 stored in the database and written to an
"off-machine" directory. Each case tampers as its attacker could, then runs
verify_audit_chain (plain, or with --checkpoint-dir when the attacker also cleaned the
checkpoint table) and states the verdict and first bad sequence it must give.

Threat models:
- "db": write access to the database (any SQL, triggers disabled), no AUDIT_CHAIN_KEYS
  and no AUDIT_SIGNING_KEY. Every case is detected.
- "key": the above plus the chain key, after a checkpoint left the machine. Detected
  up to that checkpoint.
- "limit": what is not detected, asserted so the README's list stays true.

A case the database refuses outright (`refused`) leaves the trail as it was: the tamper
function asserts the refusal, and verification must still say OK.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import IntegrityError
from django.test import override_settings

from audit.chain import event_hash, normalise_metadata, parse_key_ring
from audit.models import AuditCheckpoint, AuditEvent, ChainHead
from audit.sealing.batches import seal_pending
from audit.services import record_event
from audit.tests.fixtures import drain_sealer
from audit.tests.tamper import (
    UNREADABLE_JSON,
    cut_tree,
    event_fields,
    hash_of,
    is_postgresql,
    raw_sql,
    rebuild_tree_from,
    rehash_from,
    triggers_disabled,
)
from audit.verification.checkpoints import create_checkpoint

K1 = "k1:" + "1" * 40
K2 = "k2:" + "2" * 40
RING = f"{K2},{K1}"
CHECKPOINTED = 8
NEWEST = 12

THREATS = {
    "db": "database write access without the key",
    "key": "key holder, after an off-machine checkpoint",
    "limit": "not detected (documented limits)",
}


@dataclass(frozen=True)
class Case:
    name: str
    threat: str
    tamper: Callable[["Trail"], None]
    first_bad: int | None  # None with detected=True: broken, no single event to name
    detected: bool = True
    offsite: bool = False  # verify with --checkpoint-dir (the copy off the machine)
    reason: str = ""  # a phrase the verdict must contain
    refused: bool = False  # the database refuses the tampering itself


@dataclass(frozen=True)
class Trail:
    offsite: Path


def build_trail(settings, offsite: Path) -> Trail:
    """Record the trail every case starts from (see the module docstring)."""
    settings.AUDIT_CHECKPOINT_DIR = str(offsite)
    settings.AUDIT_CHAIN_KEYS = K1
    for number in range(1, 4):
        record_event(event_type="task_create", username="alice", resource_id=number)
    drain_sealer()
    create_checkpoint()
    settings.AUDIT_CHAIN_KEYS = RING  # rotation: #4 is the audit_chain_key event
    while (ChainHead.objects.get(pk=1).sequence) < CHECKPOINTED:
        record_event(event_type="task_create", username="alice", resource_id="n")
        drain_sealer()
    create_checkpoint()
    while (ChainHead.objects.get(pk=1).sequence) < NEWEST:
        record_event(event_type="auth_login", username="bob")
        drain_sealer()
    return Trail(offsite=offsite)


def move_head(sequence: int) -> None:
    row = AuditEvent.objects.filter(sequence=sequence).values("hash", "timestamp", "key_id")
    values = row.get()
    ChainHead.objects.filter(pk=1).update(sequence=sequence, **values)


def forge_after(sequence: int, *, key=None, plain: bool = False, **changes) -> dict:
    """Return the fields of a row that would follow #sequence, linked without/with a key."""
    fields = event_fields(sequence)
    fields.pop("id")
    fields.update(sequence=sequence + 1, prev_hash=hash_of(sequence), **changes)
    fields["metadata"] = normalise_metadata(fields["metadata"])
    fields["key_id"] = "" if plain else (key.key_id if key else fields["key_id"])
    fields["hash"] = event_hash(fields, key)
    # Not the copied row's writer MAC: the unique constraint would refuse the INSERT.
    fields["writer_mac"] = ""
    return fields


def insert_row(fields: dict) -> None:
    with triggers_disabled():
        AuditEvent.objects.bulk_create([AuditEvent(**fields)])


def drop_stored_checkpoints() -> None:
    AuditCheckpoint.objects.all().delete()


def chain_key():
    return parse_key_ring(RING).signing


# --- Database write access without the key -----------------------------------------


def change_field(trail):
    raw_sql("UPDATE {table} SET message = 'edited' WHERE sequence = 5")


def change_and_rehash_row(trail):
    fields = event_fields(5) | {"message": "edited"}
    raw_sql(
        "UPDATE {table} SET message = 'edited', hash = %s WHERE sequence = 5", [event_hash(fields)]
    )


def rewrite_and_relink(trail):
    raw_sql("UPDATE {table} SET message = 'edited' WHERE sequence = 5")
    rehash_from(5)


def rewrite_as_plain_links(trail):
    raw_sql("UPDATE {table} SET message = 'edited' WHERE sequence = 5")
    rehash_from(5, plain=True)


def downgrade_whole_chain(trail):
    rehash_from(1, plain=True)


def delete_row(trail):
    raw_sql("DELETE FROM {table} WHERE sequence = 6")


def insert_row_in_the_middle(trail):
    for sequence in range(NEWEST, 5, -1):
        raw_sql("UPDATE {table} SET sequence = %s WHERE sequence = %s", [sequence + 1, sequence])
    insert_row(forge_after(5, message="forged"))
    move_head(NEWEST + 1)


def append_and_move_head(trail):
    insert_row(forge_after(NEWEST, message="forged"))
    move_head(NEWEST + 1)


def reorder_rows(trail):
    raw_sql("UPDATE {table} SET sequence = 1000 WHERE sequence = 6")
    raw_sql("UPDATE {table} SET sequence = 6 WHERE sequence = 7")
    raw_sql("UPDATE {table} SET sequence = 7 WHERE sequence = 1000")


def backdate_row(trail):
    earlier = event_fields(2)["timestamp"] - timedelta(seconds=1)
    raw_sql("UPDATE {table} SET timestamp = %s WHERE sequence = 6", [earlier])


def truncate_tail(trail):
    raw_sql("DELETE FROM {table} WHERE sequence >= 11")


def truncate_tail_and_move_head(trail):
    # Behind the stored checkpoint of #8.
    raw_sql("DELETE FROM {table} WHERE sequence >= 7")
    move_head(6)


def truncate_and_clean_checkpoints(trail):
    raw_sql("DELETE FROM {table} WHERE sequence >= 7")
    move_head(6)
    drop_stored_checkpoints()


def replay_old_checkpoint(trail):
    # Truncate, and leave only the older (genuinely signed) checkpoint of #3 in the table.
    raw_sql("DELETE FROM {table} WHERE sequence >= 6")
    move_head(5)
    AuditCheckpoint.objects.filter(sequence=CHECKPOINTED).delete()


def empty_table(trail):
    raw_sql("DELETE FROM {table}")


def empty_table_and_head(trail):
    raw_sql("DELETE FROM {table}")
    ChainHead.objects.all().delete()


def forge_prune(trail):
    # The attack: cut history up to the checkpoint, append an audit_prune.
    last_hash = hash_of(9)
    raw_sql("DELETE FROM {table} WHERE sequence <= 9")
    metadata = {
        "count": 9,
        "first_sequence": 1,
        "last_sequence": 9,
        "last_hash": last_hash,
        "archive": "audit-2026.ndjson.gz",
        "archive_sha256": "0" * 64,
    }
    insert_row(
        forge_after(
            NEWEST, event_type="audit_prune", category="audit", message="Pruned", metadata=metadata
        )
    )
    move_head(NEWEST + 1)


def insert_unsealed(**changes) -> None:
    """Insert an event as record_event leaves it before sealing: no sequence, no links."""
    fields = event_fields(NEWEST)
    for name in ("id", "sequence", "prev_hash", "hash"):
        fields.pop(name)
    fields.update({"timestamp": fields["timestamp"] + timedelta(seconds=1), **changes})
    insert_row({**fields, "key_id": "", "writer_mac": ""})


def forge_unsealed_prune(trail):
    # Cut history up to the checkpoint and leave an unsealed audit_prune "accounting"
    # for it: no link is needed until a sealer comes by, and verification must not
    # take the word of an event that is not in the chain.
    last_hash = hash_of(9)
    raw_sql("DELETE FROM {table} WHERE sequence <= 9")
    metadata = {
        "count": 9,
        "first_sequence": 1,
        "last_sequence": 9,
        "last_hash": last_hash,
        "archive": "audit-2026.ndjson.gz",
        "archive_sha256": "0" * 64,
    }
    insert_unsealed(event_type="audit_prune", category="audit", message="Pruned", metadata=metadata)


def insert_backdated_unsealed_row(trail):
    # Sealed in, it would break the chain for good at its place: refused instead.
    insert_unsealed(timestamp=event_fields(2)["timestamp"], message="backdated")
    seal_pending()


def insert_forged_unsealed_row(trail):
    # Stamped like any fresh event: only the writer MAC tells it from one.
    insert_unsealed(event_type="auth_login", category="authentication", username="admin")
    seal_pending()


def record_unsealed(**fields) -> AuditEvent:
    """Record an event as the web processes do (background sealing): not yet linked."""
    with override_settings(AUDIT_SEALING="background"):
        return record_event(event_type="user_delete", username="admin", **fields)


def change_unsealed_row(trail):
    event = record_unsealed(resource_id="bob")
    raw_sql("UPDATE {table} SET username = 'mallory' WHERE id = %s", [event.pk])
    seal_pending()


def swap_key_id(trail):
    raw_sql("UPDATE {table} SET key_id = 'k1' WHERE sequence = 6")


def unknown_key_id(trail):
    raw_sql("UPDATE {table} SET key_id = 'k9' WHERE sequence = 6")


def plain_key_id_on_keyed_row(trail):
    raw_sql("UPDATE {table} SET key_id = '' WHERE sequence = 6")


def change_head_hash(trail):
    ChainHead.objects.filter(pk=1).update(hash="b" * 64)


def change_first_prev_hash(trail):
    raw_sql("UPDATE {table} SET prev_hash = %s WHERE sequence = 1", ["a" * 64])


def edit_stored_checkpoint(trail):
    AuditCheckpoint.objects.filter(sequence=CHECKPOINTED).update(sequence=6, hash=hash_of(6))


def forge_stored_checkpoint(trail):
    AuditCheckpoint.objects.create(
        sequence=NEWEST,
        hash=hash_of(NEWEST),
        created_at=ChainHead.objects.get().timestamp,
        signature="f" * 64,
    )


def change_metadata(trail):
    raw_sql("UPDATE {table} SET metadata = %s WHERE sequence = 9", ['{"n": 1}'])


def change_username(trail):
    raw_sql("UPDATE {table} SET username = 'mallory' WHERE sequence = 10")


def make_metadata_unreadable(trail):
    # JSON to the database, not to Python's json: verification stopped with a traceback
    # instead of a verdict.
    raw_sql("UPDATE {table} SET metadata = %s WHERE sequence = 9", [UNREADABLE_JSON])


def insert_unreadable_unsealed_row(trail):
    # One INSERT, no key needed: the sealer raised at this row every round, and no event
    # recorded after it was ever sealed.
    columns = (
        "event_type, category, outcome, username, ip_address, user_agent, request_id, "
        "resource_type, resource_id, message"
    )
    raw_sql(
        f"INSERT INTO {{table}} (timestamp, metadata, key_id, writer_mac, {columns}) "  # noqa: S608
        f"SELECT timestamp, %s, '', '', {columns} FROM {{table}} WHERE sequence = %s",
        [UNREADABLE_JSON, NEWEST],
    )
    seal_pending()


# --- Key holder, after an off-machine checkpoint --------------------------------------


def key_rewrite_before_checkpoint(trail):
    raw_sql("UPDATE {table} SET message = 'edited' WHERE sequence = 5")
    rehash_from(5, key=chain_key())
    drop_stored_checkpoints()


def key_truncate_behind_checkpoint(trail):
    raw_sql("DELETE FROM {table} WHERE sequence >= 7")
    move_head(6)
    drop_stored_checkpoints()


def key_forge_prune_over_checkpoint(trail):
    last_hash = hash_of(9)
    raw_sql("DELETE FROM {table} WHERE sequence <= 9")
    metadata = {
        "count": 9,
        "first_sequence": 1,
        "last_sequence": 9,
        "last_hash": last_hash,
        "archive": "audit-2026.ndjson.gz",
        "archive_sha256": "0" * 64,
    }
    insert_row(
        forge_after(
            NEWEST,
            key=chain_key(),
            event_type="audit_prune",
            category="audit",
            message="Pruned",
            metadata=metadata,
        )
    )
    move_head(NEWEST + 1)
    drop_stored_checkpoints()


def key_empty_everything(trail):
    raw_sql("DELETE FROM {table}")
    ChainHead.objects.all().delete()
    drop_stored_checkpoints()


def key_rebuild_whole_chain(trail):
    # A brand-new history from #1 under the key, as long as the old one.
    raw_sql("UPDATE {table} SET message = 'rebuilt'")
    rehash_from(1, key=chain_key())
    drop_stored_checkpoints()


# --- Limits --------------------------------------------------------------------------


def key_rewrite_after_checkpoint(trail):
    raw_sql("UPDATE {table} SET message = 'edited' WHERE sequence = 10")
    rehash_from(10, key=chain_key())
    rebuild_tree_from(10)  # the Merkle tree is in the database too


def truncate_after_newest_checkpoint(trail):
    raw_sql("DELETE FROM {table} WHERE sequence >= 11")
    move_head(10)
    cut_tree(10)


COPIED_COLUMNS = (
    "timestamp, event_type, category, outcome, username, ip_address, user_agent, request_id, "
    "resource_type, resource_id, message, metadata, key_id, writer_mac"
)


def insert_copy(event_id: int) -> None:
    raw_sql(
        f"INSERT INTO {{table}} ({COPIED_COLUMNS}) "  # noqa: S608
        f"SELECT {COPIED_COLUMNS} FROM {{table}} WHERE id = %s",
        [event_id],
    )


def copy_a_fresh_unsealed_row(trail):
    # Within WRITER_CLOCK_TOLERANCE of when it was recorded, a copy (MAC and all) was
    # linked like the original: the same event twice. Genuine events never share a
    # writer MAC (its nonce): the unique constraint refuses the copy's INSERT.
    event = record_unsealed(resource_id="bob")
    with pytest.raises(IntegrityError, match=r"writer_mac|audit_one_row_per_writer_mac"):
        insert_copy(event.pk)
    seal_pending()


def copy_a_sealed_row_without_the_unique_constraint(trail):
    # The table's owner drops the constraint first (rolled back with the test).
    raw_sql("DROP INDEX audit_one_row_per_writer_mac")
    event = record_unsealed(resource_id="bob")
    seal_pending()
    insert_copy(event.pk)
    seal_pending()


def delete_an_unsealed_row(trail):
    # Before the sealer's round (AUDIT_SEAL_INTERVAL_SECONDS): the SIEM copy is the record.
    event = record_unsealed(resource_id="bob")
    raw_sql("DELETE FROM {table} WHERE id = %s", [event.pk])
    seal_pending()


def retime_an_unsealed_row(trail):
    # PostgreSQL: the writer MAC cannot cover the stamp (the database's clock makes it at
    # the INSERT), only keep it within WRITER_CLOCK_TOLERANCE of the writer's reading;
    # the trigger refuses the UPDATE to every role (test_append_only.py), but the
    # table's owner, triggers off, may move an unsealed event that far, here before the
    # one recorded just before it. SQLite stamps the row with the reading itself: a
    # moved stamp is refused.
    first = record_unsealed(resource_id="first")
    second = record_unsealed(resource_id="second")
    head_stamp = AuditEvent.objects.get(sequence=NEWEST).timestamp
    raw_sql("UPDATE {table} SET timestamp = %s WHERE id = %s", [head_stamp, second.pk])
    seal_pending()
    both = AuditEvent.objects.filter(pk__in=[first.pk, second.pk])
    sealed = dict(both.values_list("pk", "sequence"))
    if is_postgresql:
        assert sealed[second.pk] < sealed[first.pk]  # linked in the order the attacker chose
    else:
        assert sealed[second.pk] is None


def repoint_user_id(trail):
    raw_sql("UPDATE {table} SET user_id = %s WHERE sequence = 9", [424242])


CASES = [
    Case("change a field", "db", change_field, 5, reason="hash mismatch"),
    Case("change a field and its own hash (plain SHA-256)", "db", change_and_rehash_row, 5),
    Case("change a field, re-link every later row", "db", rewrite_and_relink, 5),
    Case(
        "re-link from the change as plain SHA-256",
        "db",
        rewrite_as_plain_links,
        5,
        reason="plain SHA-256 link after keyed links",
    ),
    Case(
        "re-link the whole chain as plain SHA-256",
        "db",
        downgrade_whole_chain,
        NEWEST,
        reason="plain SHA-256 link",
    ),
    Case("change the metadata", "db", change_metadata, 9),
    Case("change the username", "db", change_username, 10),
    Case(
        "make a sealed event's metadata JSON that Python cannot read",
        "db",
        make_metadata_unreadable,
        9,
        reason="no readable JSON",
    ),
    Case(
        "insert an unsealed event whose metadata Python cannot read, let the sealer run",
        "db",
        insert_unreadable_unsealed_row,
        None,
        reason="has metadata that is no readable JSON",
    ),
    Case("delete a row", "db", delete_row, 6, reason="missing"),
    Case("insert a row in the middle", "db", insert_row_in_the_middle, 6),
    Case("append a row, move the head", "db", append_and_move_head, NEWEST + 1),
    Case("reorder two rows", "db", reorder_rows, 6),
    Case("backdate a timestamp", "db", backdate_row, 6),
    Case("truncate the tail", "db", truncate_tail, 11, reason="newest rows removed"),
    Case(
        "truncate behind a stored checkpoint, move the head",
        "db",
        truncate_tail_and_move_head,
        7,
        # Plain verification reads AUDIT_CHECKPOINT_DIR too: the copy is named first.
        reason="the chain head #6 is behind",
    ),
    Case(
        "same, and delete the stored checkpoints",
        "db",
        truncate_and_clean_checkpoints,
        7,
        offsite=True,
        reason="behind checkpoint-",
    ),
    Case(
        "truncate, keep only an older stored checkpoint",
        "db",
        replay_old_checkpoint,
        6,
        offsite=True,
        reason="behind checkpoint-",
    ),
    Case("empty the table, checkpoints present", "db", empty_table, 1),
    Case(
        "empty the table and the head, checkpoints present",
        "db",
        empty_table_and_head,
        1,
        reason="behind stored checkpoint #3",
    ),
    Case("forge an audit_prune over the checkpoint", "db", forge_prune, NEWEST + 1),
    Case(
        "forge an unsealed audit_prune over the checkpoint",
        "db",
        forge_unsealed_prune,
        1,
        reason="no audit_prune event accounts",
    ),
    Case(
        "insert an unsealed row stamped before the head, let the sealer run",
        "db",
        insert_backdated_unsealed_row,
        None,
        reason="1 unsealed event the sealer will not link",
    ),
    Case(
        "insert a forged unsealed event stamped now, let the sealer run",
        "db",
        insert_forged_unsealed_row,
        None,
        reason="has no writer MAC",
    ),
    Case(
        "change an unsealed event before the sealer links it",
        "db",
        change_unsealed_row,
        None,
        reason="writer MAC that does not match its fields",
    ),
    Case(
        "swap a key id for another key of the ring",
        "db",
        swap_key_id,
        6,
        reason="without an audit_chain_key event",
    ),
    Case("set a key id the ring does not hold", "db", unknown_key_id, 6, reason="does not hold"),
    Case("blank a keyed row's key id", "db", plain_key_id_on_keyed_row, 6),
    Case("change the chain head's hash", "db", change_head_hash, NEWEST),
    Case("change #1's prev_hash", "db", change_first_prev_hash, 1),
    Case(
        "edit a stored checkpoint",
        "db",
        edit_stored_checkpoint,
        6,
        reason="does not match its signature",
    ),
    Case(
        "insert a stored checkpoint",
        "db",
        forge_stored_checkpoint,
        NEWEST,
        reason="does not match its signature",
    ),
    Case(
        "rewrite before the checkpoint, re-link with the key",
        "key",
        key_rewrite_before_checkpoint,
        CHECKPOINTED,
        offsite=True,
        reason="differs from",
    ),
    Case(
        "rebuild the whole chain with the key",
        "key",
        key_rebuild_whole_chain,
        CHECKPOINTED,
        offsite=True,
        reason="differs from",
    ),
    Case(
        "truncate behind the checkpoint, move the head",
        "key",
        key_truncate_behind_checkpoint,
        7,
        offsite=True,
        reason="behind checkpoint-",
    ),
    Case(
        "forge a signed audit_prune over the checkpoint",
        "key",
        key_forge_prune_over_checkpoint,
        CHECKPOINTED,
        offsite=True,
        reason="--archive audit-2026.ndjson.gz",
    ),
    Case(
        "empty events, head and checkpoints",
        "key",
        key_empty_everything,
        1,
        offsite=True,
        reason="behind checkpoint-",
    ),
    Case(
        "key holder rewrites after the newest checkpoint",
        "limit",
        key_rewrite_after_checkpoint,
        None,
        detected=False,
        offsite=True,
    ),
    Case(
        "truncate after the newest checkpoint, move the head",
        "limit",
        truncate_after_newest_checkpoint,
        None,
        detected=False,
        offsite=True,
    ),
    Case("re-point user_id (not hashed)", "limit", repoint_user_id, None, detected=False),
    Case(
        "move an unsealed event's timestamp within a minute, before its seal "
        "(PostgreSQL: as the table's owner, triggers off)",
        "limit",
        retime_an_unsealed_row,
        None,
        detected=False,
    )
    if is_postgresql
    else Case(
        "move an unsealed event's timestamp, before its seal (SQLite)",
        "db",
        retime_an_unsealed_row,
        None,
        reason="the sealer will not link",
    ),
    Case(
        "copy an event as a new unsealed row within a minute of it",
        "db",
        copy_a_fresh_unsealed_row,
        None,
        refused=True,
    ),
    Case(
        "copy a sealed event with its writer MAC, the unique constraint dropped",
        "db",
        copy_a_sealed_row_without_the_unique_constraint,
        NEWEST + 2,
        reason="repeats the writer MAC of",
    ),
    Case(
        "delete an event before the sealer links it",
        "limit",
        delete_an_unsealed_row,
        None,
        detected=False,
    ),
]
