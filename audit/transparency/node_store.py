"""The Merkle tree's node store in the database: one MerkleNode row per complete subtree.

A tree of n leaves has fewer than 2n complete subtrees, all stored (the leaves too), so a
root or proof reads O(log n) rows by primary key in one query, and an append writes
about two rows a leaf after reading the O(log n) frontier. Rows are never changed:
the model, its queryset and (PostgreSQL) a trigger refuse UPDATE and DELETE.

Appends must be serialised by the caller (the sealer's lock on the chain head): two
appenders at the same size collide on the primary key and one gets an IntegrityError,
inside a transaction that then rolls back whole.
"""

from collections.abc import Iterable, Sequence

from django.db.models import Max

from ..models import MerkleNode
from ..roles import SEALER_ROLE, acting_as
from .verifier.merkle import HASH_SIZE, MissingNodeError, NodeId

# Rows per INSERT: under SQLite's 32,766 bound variables at 3 columns a row.
INSERT_BATCH = 2_000
# Keys per SELECT: a proof needs at most ~2 * 64 of them, far below any bound.
SELECT_BATCH = 500


class DatabaseNodeStore:
    """A NodeStore kept in the MerkleNode table of the database `using`."""

    def __init__(self, *, using: str = "default") -> None:
        self.using = using

    def get_nodes(self, ids: Sequence[NodeId]) -> list[bytes]:
        """Return the hashes of the given nodes, in order; raise MissingNodeError if absent."""
        found: dict[NodeId, bytes] = {}
        unique = sorted(set(ids))
        for start in range(0, len(unique), SELECT_BATCH):
            chunk = unique[start : start + SELECT_BATCH]
            rows = (
                MerkleNode.objects.using(self.using)
                .filter(pk__in=chunk)
                .values_list("level", "index", "hash")
            )
            # memoryview on PostgreSQL, bytes on SQLite.
            found.update(((level, index), bytes(value)) for level, index, value in rows)
        missing = [node for node in ids if node not in found]
        if missing:
            raise MissingNodeError(f"no node at (level, index) {missing[0]}")
        return [found[node] for node in ids]

    def put_nodes(self, nodes: Iterable[tuple[NodeId, bytes]]) -> None:
        """Insert new nodes in one transaction; an existing one fails it (IntegrityError).

        As the sealer role: on PostgreSQL no other role may INSERT a node (migration 0023).
        """
        rows = []
        for (level, index), value in nodes:
            if len(value) != HASH_SIZE:
                raise ValueError(f"a node hash has {len(value)} bytes, not {HASH_SIZE}")
            rows.append(MerkleNode(level=level, index=index, hash=value))
        with acting_as(SEALER_ROLE, using=self.using):
            MerkleNode.objects.using(self.using).bulk_create(rows, batch_size=INSERT_BATCH)

    def size(self) -> int:
        """Return the number of leaves stored (the tree's size)."""
        newest = (
            MerkleNode.objects.using(self.using)
            .filter(level=0)
            .aggregate(newest=Max("index"))["newest"]
        )
        return 0 if newest is None else newest + 1
