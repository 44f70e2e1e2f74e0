"""Inclusion and consistency proofs of the audit trail's Merkle tree, for the API.

Sizes default to the newest signed checkpoint's, so a proof comes with the signed root
it leads to; a size beyond the tree, or one that does not contain the leaf, is refused
naming the query parameter.
"""

from dataclasses import dataclass

from ..models import AuditEvent, TreeCheckpoint
from .node_store import DatabaseNodeStore
from .verifier.merkle import consistency_proof, inclusion_proof


class ProofRefused(ValueError):
    """A size that admits no proof; `field` names the query parameter."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class EventNotInTree(LookupError):
    """No sealed event with this id (unsealed yet, pruned, or never recorded)."""


@dataclass(frozen=True)
class InclusionProof:
    leaf_index: int
    tree_size: int
    leaf_hash: bytes
    proof: list[bytes]
    checkpoint: str | None


@dataclass(frozen=True)
class ConsistencyProof:
    old_size: int
    new_size: int
    proof: list[bytes]


def signed_note_at(size: int) -> str | None:
    """Return the stored signed checkpoint of a tree size, if one was signed at that size."""
    return TreeCheckpoint.objects.filter(size=size).values_list("note", flat=True).first()


def default_size(store: DatabaseNodeStore) -> int:
    """Return the newest signed checkpoint's size, or the tree's size before any is signed."""
    newest = TreeCheckpoint.objects.order_by("-size").values_list("size", flat=True).first()
    return newest if newest is not None else store.size()


def event_inclusion_proof(*, event_id: int, size: int | None = None) -> InclusionProof:
    """Return the proof that a sealed event is leaf sequence - 1 of the tree of `size` leaves."""
    sequence = (
        AuditEvent.objects.filter(pk=event_id, sequence__isnull=False)
        .values_list("sequence", flat=True)
        .first()
    )
    if sequence is None:
        raise EventNotInTree(f"no sealed audit event {event_id}")
    store = DatabaseNodeStore()
    tree_size = store.size()
    size = default_size(store) if size is None else size
    index = sequence - 1
    if size > tree_size:
        raise ProofRefused("size", f"the tree holds {tree_size} leaves; size {size} is beyond it")
    if size <= index:
        # The default (newest checkpoint) may predate the event: say so, not "bad input".
        raise ProofRefused(
            "size",
            f"event {event_id} is leaf {index}: the tree of size {size} does not contain it "
            f"(ask for a size from {index + 1} to {tree_size})",
        )
    [leaf] = store.get_nodes([(0, index)])
    return InclusionProof(
        leaf_index=index,
        tree_size=size,
        leaf_hash=leaf,
        proof=inclusion_proof(store, index=index, size=size),
        checkpoint=signed_note_at(size),
    )


def tree_consistency_proof(*, old_size: int, new_size: int | None = None) -> ConsistencyProof:
    """Return the proof that the tree of old_size leaves is a prefix of that of new_size."""
    store = DatabaseNodeStore()
    tree_size = store.size()
    new_size = default_size(store) if new_size is None else new_size
    if new_size > tree_size:
        raise ProofRefused("to", f"the tree holds {tree_size} leaves; size {new_size} is beyond it")
    if old_size > new_size:
        raise ProofRefused("from", f"size {old_size} is after to={new_size}")
    return ConsistencyProof(
        old_size=old_size,
        new_size=new_size,
        proof=consistency_proof(store, old_size=old_size, new_size=new_size),
    )
