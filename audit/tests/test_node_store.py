"""The Merkle tree kept in the database gives the roots and proofs of the one in memory."""

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction

from audit.models import AppendOnlyError, MerkleNode
from audit.transparency.node_store import DatabaseNodeStore
from audit.transparency.verifier.merkle import (
    MemoryNodeStore,
    MissingNodeError,
    append_leaves,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root_hash,
    verify_consistency,
    verify_inclusion,
)

# The append-only trigger is PostgreSQL-only; SQLite relies on the model guards.
postgresql_only = pytest.mark.postgresql

LEAVES = [leaf_hash(f"event {i}".encode()) for i in range(70)]


def grow(store, chunks: list[int]) -> int:
    size = 0
    for chunk in chunks:
        size = append_leaves(store, size=size, leaf_hashes=LEAVES[size : size + chunk])
    return size


@pytest.fixture
def stores(db):
    memory, database = MemoryNodeStore(), DatabaseNodeStore()
    chunks = [1, 1, 3, 8, 13, 4, 40]  # 70 leaves, appended as a sealer's batches would be
    assert grow(memory, chunks) == grow(database, chunks) == 70
    return memory, database


def test_the_database_holds_the_same_nodes(stores):
    memory, database = stores
    rows = MerkleNode.objects.values_list("level", "index", "hash")
    assert {(level, index): bytes(value) for level, index, value in rows} == memory.nodes
    assert database.size() == memory.size() == 70


def test_roots_and_proofs_are_those_of_the_tree_in_memory(stores):
    memory, database = stores
    for size in range(71):
        assert root_hash(database, size=size) == root_hash(memory, size=size)
    for size in range(1, 71):
        root = root_hash(database, size=size)
        for index in range(size):
            proof = inclusion_proof(database, index=index, size=size)
            assert proof == inclusion_proof(memory, index=index, size=size)
            verify_inclusion(
                leaf_hash=LEAVES[index], index=index, size=size, proof=proof, root=root
            )
        for old_size in range(1, size + 1, 3):
            proof = consistency_proof(database, old_size=old_size, new_size=size)
            assert proof == consistency_proof(memory, old_size=old_size, new_size=size)
            verify_consistency(
                old_size=old_size,
                new_size=size,
                old_root=root_hash(memory, size=old_size),
                new_root=root,
                proof=proof,
            )


def test_a_proof_is_one_query(stores, django_assert_num_queries):
    _, database = stores
    with django_assert_num_queries(1):
        inclusion_proof(database, index=37, size=69)
    with django_assert_num_queries(1):
        consistency_proof(database, old_size=23, new_size=69)
    with django_assert_num_queries(1):
        root_hash(database, size=69)


def test_an_append_reads_the_frontier_once_and_inserts_in_bulk(stores, django_assert_num_queries):
    _, database = stores
    # SELECT the frontier; then the insert's transaction (a savepoint in the test's),
    # on PostgreSQL as the sealer role: who am I, SET LOCAL ROLE, and back.
    with django_assert_num_queries(4 if connection.vendor == "sqlite" else 7):
        assert append_leaves(database, size=70, leaf_hashes=LEAVES[:30]) == 100
    assert MerkleNode.objects.filter(level=0).count() == 100


def test_an_empty_store(db):
    database = DatabaseNodeStore()
    assert database.size() == 0
    assert append_leaves(database, size=0, leaf_hashes=[]) == 0
    assert not MerkleNode.objects.exists()


def test_appending_at_a_stale_size_fails_whole(stores):
    _, database = stores
    with pytest.raises(IntegrityError), transaction.atomic():
        append_leaves(database, size=69, leaf_hashes=LEAVES[:5])
    with pytest.raises(MissingNodeError):
        append_leaves(database, size=71, leaf_hashes=LEAVES[:5])
    assert database.size() == 70
    assert MerkleNode.objects.count() == 70 + 35 + 17 + 8 + 4 + 2 + 1


def test_a_missing_node_is_named(db):
    with pytest.raises(MissingNodeError, match=r"\(0, 0\)"):
        root_hash(DatabaseNodeStore(), size=1)


def test_the_model_refuses_changes(stores):
    node = MerkleNode.objects.get(level=2, index=3)
    node.hash = b"\x00" * 32
    with pytest.raises(AppendOnlyError):
        node.save()
    with pytest.raises(AppendOnlyError):
        node.delete()
    with pytest.raises(AppendOnlyError):
        MerkleNode.objects.filter(level=0).update(hash=b"\x00" * 32)
    with pytest.raises(AppendOnlyError):
        MerkleNode.objects.all().delete()
    memory, _ = stores
    assert bytes(MerkleNode.objects.get(level=2, index=3).hash) == memory.nodes[(2, 3)]


def refused_sql(sql: str) -> None:
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql)


@postgresql_only
def test_postgresql_refuses_update_and_delete_in_sql(stores):
    refused_sql("UPDATE audit_merklenode SET hash = '\\x00'::bytea WHERE level = 0")
    refused_sql("DELETE FROM audit_merklenode WHERE level = 0 AND index = 69")
    refused_sql("DELETE FROM audit_merklenode")
    memory, database = stores
    assert root_hash(database, size=70) == root_hash(memory, size=70)
