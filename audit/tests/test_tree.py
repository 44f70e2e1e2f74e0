"""The Merkle tree over the sealed chain: appended by the sealer, checked by verify_audit_chain."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings
from django.utils import timezone

from audit.chain import row_payload
from audit.models import ChainHead, MerkleNode
from audit.sealing.batches import seal_pending
from audit.services import record_event
from audit.tests.fixtures import drain_sealer
from audit.tests.tamper import NODES, append_chain, cut_tree, hash_of, raw_sql
from audit.transparency.node_store import DatabaseNodeStore
from audit.transparency.tree_heads import sign_tree_head
from audit.transparency.verifier.merkle import (
    MemoryNodeStore,
    append_leaves,
    inclusion_proof,
    leaf_hash,
    root_hash,
    verify_inclusion,
)
from audit.verification.rows import event_rows


def head() -> int:
    return ChainHead.objects.values_list("sequence", flat=True).get(pk=1)


def rebuilt_root() -> bytes:
    """Return the root an offline verifier computes from the events' canonical records."""
    store = MemoryNodeStore()
    leaves = [leaf_hash(row_payload(tuple(row[:14]))) for row in event_rows()]
    append_leaves(store, size=0, leaf_hashes=leaves)
    return root_hash(store, size=len(leaves))


def verify(*args: str) -> tuple[int, str]:
    out = StringIO()
    try:
        call_command("verify_audit_chain", *args, stdout=out)
    except CommandError as error:
        return error.returncode, out.getvalue() + str(error)
    return 0, out.getvalue()


def test_the_background_sealer_appends_one_leaf_per_event_it_seals(db):
    with override_settings(AUDIT_SEALING="background"):
        for number in range(7):
            record_event(event_type="task_create", resource_id=number)
        assert DatabaseNodeStore().size() == 0  # nothing sealed, nothing in the tree
        assert seal_pending() == 7
    assert DatabaseNodeStore().size() == head() == 7
    assert root_hash(DatabaseNodeStore(), size=7) == rebuilt_root()


def test_inline_sealing_appends_the_leaf_in_the_writers_transaction(db, inline_sealing):
    for number in range(5):
        event = record_event(event_type="auth_login", username=f"u{number}")
        assert DatabaseNodeStore().size() == event.sequence
    assert root_hash(DatabaseNodeStore(), size=5) == rebuilt_root()


def test_a_chain_key_change_is_a_leaf_too(db, settings):
    settings.AUDIT_CHAIN_KEYS = "k1:" + "1" * 40
    record_event(event_type="auth_login")
    drain_sealer()
    settings.AUDIT_CHAIN_KEYS = "k2:" + "2" * 40 + ",k1:" + "1" * 40
    record_event(event_type="auth_login")
    drain_sealer()  # #2 is the audit_chain_key event, #3 this one
    assert DatabaseNodeStore().size() == head() == 3
    assert root_hash(DatabaseNodeStore(), size=3) == rebuilt_root()


def test_a_trail_sealed_before_the_tree_existed_catches_up_at_the_next_seal(db):
    # Stamped in the past: an event recorded after a head stamped ahead waits for the
    # clock to get there before the sealer links it.
    append_chain(9, start=timezone.now() - timedelta(minutes=10))
    cut_tree(0)  # as after the upgrade: nine sealed events, no tree
    assert MerkleNode.objects.count() == 0
    seal_pending()  # nothing to seal: the round catches the tree up all the same
    assert DatabaseNodeStore().size() == 9
    record_event(event_type="auth_login")
    drain_sealer()
    assert DatabaseNodeStore().size() == head() == 10
    assert root_hash(DatabaseNodeStore(), size=10) == rebuilt_root()


def test_proofs_for_pruned_events_come_from_the_stored_nodes(db, tmp_path):
    append_chain(12, start=timezone.now() - timedelta(days=60))
    record_event(event_type="auth_login")
    drain_sealer()
    root_before = root_hash(DatabaseNodeStore(), size=13)
    call_command(
        "audit_retention",
        "--older-than-days",
        "30",
        "--archive",
        str(tmp_path / "a.ndjson.gz"),
        stdout=StringIO(),
    )
    store = DatabaseNodeStore()
    assert store.size() == head() == 14  # + the audit_prune event; no leaf deleted
    assert root_hash(store, size=13) == root_before
    # #3 (leaf 2) is gone from the table; its leaf and its proof are not.
    proof = inclusion_proof(store, index=2, size=14)
    leaf = store.get_nodes([(0, 2)])[0]
    verify_inclusion(leaf_hash=leaf, index=2, size=14, proof=proof, root=root_hash(store, size=14))
    sign_tree_head()
    code, output = verify()
    assert code == 0, output
    assert "Merkle tree of 14 leaves holds, #13-#14 recomputed" in output


def test_an_intact_anchored_trail_verifies_with_its_tree(db):
    append_chain(6)
    sign_tree_head()
    code, output = verify()
    assert code == 0, output
    assert "Merkle tree of 6 leaves holds, #1-#6 recomputed" in output
    assert "1 stored and 1 outside the database signed checkpoints hold" in output


def test_without_a_checkpoint_outside_the_database_the_trail_is_unanchored(db, settings):
    append_chain(3)
    code, output = verify()
    assert code == 4, output
    assert "unanchored: a database writer could remove the tail unnoticed" in output
    # Nothing to cut from an empty trail: that is not unanchored.
    settings.AUDIT_CHECKPOINT_DIR = ""
    sign_tree_head()  # stored only: no file, so still unanchored
    assert verify()[0] == 4


def test_an_empty_trail_needs_no_anchor(db):
    code, output = verify()
    assert code == 0, output
    assert "OK" in output


def test_a_changed_leaf_is_named_by_its_event(db):
    append_chain(6)
    sign_tree_head()
    raw_sql(
        'UPDATE {table} SET hash = %s WHERE "level" = 0 AND "index" = 3', [b"\0" * 32], table=NODES
    )
    code, output = verify()
    assert code == 1, output
    assert "BROKEN at #4: #4 differs from the leaf in the stored Merkle tree" in output


def test_a_changed_interior_node_is_found(db):
    append_chain(8)
    sign_tree_head()
    raw_sql(
        'UPDATE {table} SET hash = %s WHERE "level" = 2 AND "index" = 1', [b"\1" * 32], table=NODES
    )
    code, output = verify()
    assert code == 1, output
    assert "the stored Merkle tree's node over #5-#8 differs from its recomputation" in output


def test_leaves_of_removed_events_betray_a_cut_tail(db):
    append_chain(8)
    raw_sql("DELETE FROM {table} WHERE sequence >= 7")
    ChainHead.objects.filter(pk=1).update(sequence=6, hash=hash_of(6))
    code, output = verify("--from", "1", "--to", "6")  # a range holds on its own
    assert code == 0, output
    code, output = verify()
    assert code == 1, output
    assert "the Merkle tree holds 8 leaves but the chain head is #6" in output


@pytest.mark.parametrize("chunk", ["1", "3", "5000"])
def test_the_recomputation_streams_in_chunks_of_any_size(db, chunk):
    append_chain(11)
    sign_tree_head()
    code, output = verify("--chunk-size", chunk)
    assert code == 0, output


def test_a_range_recomputes_only_its_own_nodes(db):
    append_chain(10)
    sign_tree_head()
    code, output = verify("--from", "3", "--to", "6")
    assert code == 0, output
    assert "#3-#6 recomputed" in output
