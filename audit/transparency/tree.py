"""The audit trail's Merkle tree: one leaf per sealed event, appended as it is sealed.

Leaf i (counting from 0) is the event of sequence i + 1. Its bytes are the event's
canonical record, ``verifier.records.row_payload`` of its HASHED_FIELDS (sequence and
prev_hash included): the very bytes its chain link is an HMAC of, so the tree commits
to exactly what the chain does, and anyone holding an export can rebuild both.

The sealer appends a batch's leaves in the transaction that links the batch, under
the chain head lock, so the tree's size is the chain head's sequence whenever either
is committed. Nodes are never deleted: retention removes events, never their leaves,
so proofs for pruned events still come from the stored nodes.
"""

from collections.abc import Sequence

from ..verification.rows import event_rows
from .node_store import DatabaseNodeStore
from .verifier.merkle import append_leaves, leaf_hash
from .verifier.records import row_payload

# Leaves read and appended at a time when the tree catches up on sealed events.
CATCH_UP_CHUNK = 50_000


class TreeMismatch(Exception):
    """The stored tree cannot take the sealed events: it is ahead of the chain, or a gap."""


def leaf_data(values: Sequence) -> bytes:
    """Return an event's leaf bytes from its HASHED_FIELDS values, in order."""
    return row_payload(tuple(values))


def event_leaf_hash(values: Sequence) -> bytes:
    """Return the RFC 6962 leaf hash of an event given as HASHED_FIELDS values."""
    return leaf_hash(row_payload(tuple(values)))


def tree_size() -> int:
    """Return the number of leaves in the stored tree."""
    return DatabaseNodeStore().size()


def missing_leaves(*, first: int, last: int) -> list[bytes]:
    """Return the leaf hashes of sealed events first..last, read from the table.

    For a trail sealed before the tree existed (an upgrade), or seeded in bulk: the
    tree catches up at the next seal. Raise TreeMismatch if an event is gone (pruned
    before the upgrade): its leaf cannot be made any more.
    """
    hashes = []
    expected = first
    for row in event_rows(first=first, last=last):
        if row[0] != expected:
            break
        hashes.append(event_leaf_hash(row))
        expected += 1
    if expected != last + 1:
        raise TreeMismatch(
            f"the Merkle tree stops at {first - 1} leaves and event #{expected} is not in "
            "the table (pruned before the tree existed?): the tree cannot be built"
        )
    return hashes


def append_sealed(*, first_sequence: int, leaf_hashes: Sequence[bytes]) -> int:
    """Append the leaves of the events sealed from `first_sequence` on; return the size.

    Called by the sealer in its transaction, holding the chain head lock. Sealed events
    the tree lacks (before `first_sequence`) are added first; a tree that already holds
    leaves from `first_sequence` on means the chain was cut back under it (TreeMismatch).
    """
    store = DatabaseNodeStore()
    size = store.size()
    if size > first_sequence - 1:
        raise TreeMismatch(
            f"the Merkle tree holds {size} leaves but the chain head is at "
            f"#{first_sequence - 1}: events were removed and the head moved back; "
            "run verify_audit_chain"
        )
    while size < first_sequence - 1:
        # A chunk at a time: a seeded trail of millions of events is caught up in
        # bounded memory.
        last = min(first_sequence - 1, size + CATCH_UP_CHUNK)
        size = append_leaves(
            store, size=size, leaf_hashes=missing_leaves(first=size + 1, last=last)
        )
    return append_leaves(store, size=size, leaf_hashes=leaf_hashes)


def catch_up(*, head_sequence: int) -> int:
    """Append the leaves of sealed events up to `head_sequence` the tree lacks; return the size."""
    return append_sealed(first_sequence=head_sequence + 1, leaf_hashes=[])
