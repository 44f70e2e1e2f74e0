"""Hold the stored Merkle tree against the events, and the signed tree heads against the tree.

``verify_tree`` recomputes the tree from the events, streaming (a chunk of events and the
tree's O(log n) frontier in memory), and compares every leaf and every subtree it
completes with the stored nodes, then the root. Where retention pruned the oldest
events, the recomputation starts from the stored nodes that cover them.

``check_tree_heads`` holds signed checkpoints (the files outside the database and the
stored rows) against the tree and each other: a checkpoint larger than the tree (its
tail deleted), one whose root is not the tree's at its size (rewritten), and a file
whose stored copy is gone or replaced are all tampering.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import reduce
from operator import or_

from django.db.models import Q

from ..models import ChainHead, MerkleNode, TreeCheckpoint
from ..verification.rows import CHUNK_SIZE, ChainBroken, event_rows, span
from .node_store import DatabaseNodeStore
from .tree import event_leaf_hash
from .tree_heads import SignedTreeHead
from .verifier.merkle import (
    MissingNodeError,
    NodeId,
    append_leaves,
    compact_range,
    root_hash,
    root_hashes,
)


@dataclass(frozen=True)
class TreeVerdict:
    """What the tree check covered: the tree's size and the leaves recomputed."""

    size: int
    leaves_checked: int
    first_sequence: int | None = None
    last_sequence: int | None = None

    def __str__(self) -> str:
        covered = (
            f", {span(self.first_sequence, self.last_sequence)} recomputed"
            if self.first_sequence is not None and self.last_sequence is not None
            else ""
        )
        return f"Merkle tree of {self.size:,} leaves holds{covered}"


class _Recomputed:
    """A node store that answers from recomputed nodes, then from the stored tree.

    append_leaves reads the frontier from it and writes the nodes it completes into it,
    so the stored tree is only read, never written.
    """

    def __init__(self, stored: DatabaseNodeStore) -> None:
        self.stored = stored
        self.known: dict[NodeId, bytes] = {}
        self.completed: list[tuple[NodeId, bytes]] = []

    def get_nodes(self, ids: Sequence[NodeId]) -> list[bytes]:
        missing = [node for node in ids if node not in self.known]
        if missing:
            try:
                self.known.update(zip(missing, self.stored.get_nodes(missing), strict=True))
            except MissingNodeError as error:
                raise ChainBroken(None, f"the stored Merkle tree lacks a node: {error}") from error
        return [self.known[node] for node in ids]

    def put_nodes(self, nodes: Iterable[tuple[NodeId, bytes]]) -> None:
        self.completed = list(nodes)
        self.known.update(self.completed)

    def keep_frontier(self, frontier: Sequence[NodeId]) -> None:
        self.known = {node: self.known[node] for node in frontier if node in self.known}


def stored_nodes(ids: Sequence[NodeId]) -> dict[NodeId, bytes]:
    """Return the stored hashes of nodes that run in one index range per level: one query."""
    ranges: dict[int, tuple[int, int]] = {}
    for level, index in ids:
        low, high = ranges.get(level, (index, index))
        ranges[level] = (min(low, index), max(high, index))
    condition = reduce(
        or_, (Q(level=level, index__range=bounds) for level, bounds in ranges.items())
    )
    rows = MerkleNode.objects.filter(condition).values_list("level", "index", "hash")
    return {(level, index): bytes(value) for level, index, value in rows}


def compare(completed: list[tuple[NodeId, bytes]]) -> None:
    """Raise ChainBroken at the first recomputed node the stored tree does not hold as is."""
    found = stored_nodes([node for node, _ in completed])
    # Leaves first: a changed event is named by its sequence number.
    for (level, index), value in sorted(completed):
        stored = found.get((level, index))
        if stored == value:
            continue
        first, last = (index << level) + 1, (index + 1) << level
        if level == 0:
            what = "is missing from" if stored is None else "differs from the leaf in"
            raise ChainBroken(
                first,
                f"#{first} {what} the stored Merkle tree (event or tree rewritten)",
            )
        what = "is missing" if stored is None else "differs from its recomputation"
        raise ChainBroken(
            first, f"the stored Merkle tree's node over {span(first, last)} {what} (tree rewritten)"
        )


def head_sequence() -> int:
    return ChainHead.objects.filter(pk=1).values_list("sequence", flat=True).first() or 0


def head_and_size(store: DatabaseNodeStore) -> tuple[int, int]:
    """Return the chain head's sequence and the tree's size as of one commit of the sealer.

    The sealer moves both in one transaction, but two reads outside one snapshot can
    fall either side of its commit: read the head again until it held still.
    """
    head = head_sequence()
    while True:
        size = store.size()
        again = head_sequence()
        if again == head:
            return head, size
        head = again


def verify_tree(
    *,
    first: int | None = None,
    last: int | None = None,
    chunk_size: int = CHUNK_SIZE,
    whole: bool = True,
) -> TreeVerdict:
    """Recompute the tree over the stored events first..last; raise ChainBroken if it differs.

    With `whole`, the tree must also have exactly one leaf per sealed event (the head's
    sequence) and its root is compared; a range alone checks the nodes it completes.
    Run it after the chain walk: a broken link is named better there.
    """
    store = DatabaseNodeStore()
    head, size = head_and_size(store)
    if whole and size != head:
        if size > head:
            reason = f"leaves #{head + 1}-#{size} remain of events removed (head moved back)"
        else:
            reason = f"#{size + 1}-#{head} are sealed but not in the tree"
        raise ChainBroken(
            min(size, head) + 1,
            f"the Merkle tree holds {size:,} leaves but the chain head is #{head}: {reason}",
        )
    end = head if last is None else min(last, head)
    recomputed = _Recomputed(store)
    position: int | None = None  # leaves recomputed up to here (the tree size they make)
    chunk: list[bytes] = []
    checked = 0
    first_seen = last_seen = None

    def flush() -> None:
        nonlocal position
        if not chunk or position is None:
            return
        start = position - len(chunk)
        append_leaves(recomputed, size=start, leaf_hashes=chunk)
        compare(recomputed.completed)
        recomputed.keep_frontier(compact_range(0, position))
        chunk.clear()

    for row in event_rows(first=first, last=end, chunk_size=chunk_size):
        sequence = row[0]
        if position is not None and sequence != position + 1:
            flush()  # a gap: start again from the stored nodes before the next event
            recomputed.known.clear()
            position = None
        if position is None:
            position = sequence - 1
        chunk.append(event_leaf_hash(row))
        position += 1
        checked += 1
        first_seen = sequence if first_seen is None else first_seen
        last_seen = sequence
        if len(chunk) >= chunk_size:
            flush()
    flush()
    # Every node the root folds was recomputed or lies before the stored events.
    if (
        whole
        and position == head
        and root_hash(recomputed, size=head) != root_hash(store, size=head)
    ):
        raise ChainBroken(head, "the stored Merkle tree's root differs from its recomputation")
    return TreeVerdict(
        size=size, leaves_checked=checked, first_sequence=first_seen, last_sequence=last_seen
    )


def note_text(note: str) -> str:
    """Return a signed note's text: everything before the blank line and signatures."""
    return note[: note.rfind("\n\n") + 1]


def check_tree_heads(
    heads: Sequence[SignedTreeHead], *, outside: bool, tree_size: int | None = None
) -> list[str]:
    """Hold signed checkpoints against the stored tree; return a note each, or raise ChainBroken.

    With `outside` (files kept outside the database), each must also have its stored
    copy, with the same signed text: a deleted or replaced row is tampering with the
    database's copy.
    """
    store = DatabaseNodeStore()
    size = store.size() if tree_size is None else tree_size
    notes = []
    heads = sorted(heads, key=lambda head: head.checkpoint.size)
    for head in heads:
        if head.checkpoint.size > size:
            cut = head.checkpoint.size
            raise ChainBroken(
                size + 1,
                f"the Merkle tree holds {size:,} leaves, fewer than the {cut:,} of the signed "
                f"checkpoint {head.source}: #{size + 1}-#{cut} were removed",
            )
    roots = root_hashes(store, sizes=[head.checkpoint.size for head in heads])
    stored: dict[int, str] = {}
    if outside:
        wanted = [head.checkpoint.size for head in heads]
        for start in range(0, len(wanted), 1000):
            rows = TreeCheckpoint.objects.filter(size__in=wanted[start : start + 1000])
            stored.update(rows.values_list("size", "note"))
    for head, root in zip(heads, roots, strict=True):
        checkpoint = head.checkpoint
        if root != checkpoint.root_hash:
            raise ChainBroken(
                None,
                f"the Merkle tree at size {checkpoint.size:,} differs from the signed checkpoint "
                f"{head.source} (history up to #{checkpoint.size} rewritten)",
            )
        if outside:
            copy = stored.get(checkpoint.size)
            if copy is None:
                raise ChainBroken(
                    None,
                    f"the signed checkpoint {head.source} has no stored copy in the database "
                    "(TreeCheckpoint row deleted)",
                )
            # The signed text, not the signature lines: a witness may cosign the file.
            if note_text(copy) != note_text(head.note):
                raise ChainBroken(
                    None,
                    f"the stored copy of the signed checkpoint {head.source} differs from the "
                    "file (TreeCheckpoint row replaced)",
                )
        notes.append(f"{head.source} (size {checkpoint.size:,}) matches")
    return notes
