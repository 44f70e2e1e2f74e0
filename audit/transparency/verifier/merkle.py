"""RFC 6962 / RFC 9162 Merkle trees: hashes, inclusion and consistency proofs.

The tree is the one of RFC 9162 section 2.1 (the same hashes as RFC 6962 section 2.1):
a leaf hashes as SHA-256(0x00 || leaf bytes), a node as SHA-256(0x01 || left || right),
and the tree over n leaves splits at the largest power of two smaller than n.

Proofs are built from a ``NodeStore`` that holds the hash of every *complete* subtree:
level L, index k covers leaves [k * 2**L, (k + 1) * 2**L). Only complete subtrees are
ever stored, so a stored hash never changes as the tree grows; a subtree on the right
edge of a tree whose size is not a power of two is hashed from the O(log n) complete
subtrees it is made of. A proof therefore reads O(log n) nodes, in one
``get_nodes`` call, whatever the size of the tree (10 million leaves is 24 levels).

``append_leaves`` adds leaves and the complete subtrees they finish, reading only the
"frontier" (the complete subtrees that make up the current tree, one per set bit of its
size): the compact range of transparency-dev/merkle's ``compact`` package.

The verifiers (``verify_inclusion``, ``verify_consistency``) follow RFC 9162 sections
2.1.3.2 and 2.1.4.2 and need nothing but the proof, the sizes and the hashes.
"""

import hashlib
import hmac
from collections.abc import Iterable, Sequence
from typing import Protocol

HASH_SIZE = 32
# The root of the empty tree: SHA-256 of the empty string (RFC 9162 section 2.1.1).
EMPTY_ROOT = hashlib.sha256(b"").digest()
_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"

# (level, index): the complete subtree over leaves [index << level, (index + 1) << level).
NodeId = tuple[int, int]


class InvalidProofError(ValueError):
    """A proof, size or hash that does not verify; the message says which check failed."""


class MissingNodeError(LookupError):
    """A node store lacks a complete subtree that the tree of the asked size must have."""


class NodeStore(Protocol):
    """Where the hashes of complete subtrees are kept.

    Nodes are only ever added, never changed: a store refuses to replace a node.
    """

    def get_nodes(self, ids: Sequence[NodeId]) -> list[bytes]:
        """Return the hashes of the given nodes, in order; raise MissingNodeError if absent."""
        ...

    def put_nodes(self, nodes: Iterable[tuple[NodeId, bytes]]) -> None:
        """Add new nodes; refuse (and add none of them) if any already exists."""
        ...


def leaf_hash(data: bytes) -> bytes:
    """Return the RFC 6962 hash of a leaf: SHA-256(0x00 || data)."""
    return hashlib.sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return the RFC 6962 hash of an interior node: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


def _split(size: int) -> int:
    """Return the largest power of two smaller than size (size >= 2): RFC 9162's k."""
    return 1 << ((size - 1).bit_length() - 1)


def compact_range(begin: int, end: int) -> list[NodeId]:
    """Return the fewest complete subtrees covering leaves [begin, end), left to right."""
    if not 0 <= begin <= end:
        raise ValueError(f"not a range of leaves: [{begin}, {end})")
    ids: list[NodeId] = []
    while begin < end:
        # The largest subtree that starts at begin (aligned to its size) and fits.
        level = (begin & -begin).bit_length() - 1 if begin else (end - begin).bit_length()
        while begin + (1 << level) > end:
            level -= 1
        ids.append((level, begin >> level))
        begin += 1 << level
    return ids


def _fold(hashes: Sequence[bytes]) -> bytes:
    """Return the hash of a right-edge subtree from its complete subtrees, left to right.

    For a range that starts aligned, the complete subtrees shrink left to right and the
    RFC tree over the range is left subtree + (the rest), so the hash folds from the right.
    """
    result = hashes[-1]
    for left in reversed(hashes[:-1]):
        result = node_hash(left, result)
    return result


def _hash_ranges(store: NodeStore, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
    """Return the RFC tree hash of each leaf range, reading every node in one call."""
    plans = [compact_range(begin, end) for begin, end in ranges]
    wanted = sorted({node for plan in plans for node in plan})
    found = dict(zip(wanted, store.get_nodes(wanted), strict=True))
    return [_fold([found[node] for node in plan]) for plan in plans]


def root_hash(store: NodeStore, *, size: int) -> bytes:
    """Return the root hash of the tree of the first `size` leaves (MTH of RFC 9162)."""
    if size < 0:
        raise ValueError(f"a tree size cannot be negative: {size}")
    if size == 0:
        return EMPTY_ROOT
    [root] = _hash_ranges(store, [(0, size)])
    return root


def root_hashes(store: NodeStore, *, sizes: Sequence[int]) -> list[bytes]:
    """Return the root hash of the tree at each size, in order, reading every node in one call."""
    if any(size < 0 for size in sizes):
        raise ValueError(f"a tree size cannot be negative: {min(sizes)}")
    grown = sorted({size for size in sizes if size > 0})
    roots = dict(zip(grown, _hash_ranges(store, [(0, size) for size in grown]), strict=True))
    return [roots.get(size, EMPTY_ROOT) for size in sizes]


def inclusion_ranges(*, index: int, size: int) -> list[tuple[int, int]]:
    """Return the leaf ranges whose hashes make the audit path of leaf `index`, in order.

    RFC 9162 section 2.1.3.1: PATH(m, D[n]), walked from the root down and reversed.
    """
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of size {size}")
    ranges: list[tuple[int, int]] = []
    begin, end = 0, size
    while end - begin > 1:
        middle = begin + _split(end - begin)
        if index < middle:
            ranges.append((middle, end))
            end = middle
        else:
            ranges.append((begin, middle))
            begin = middle
    ranges.reverse()
    return ranges


def consistency_ranges(*, old_size: int, new_size: int) -> list[tuple[int, int]]:
    """Return the leaf ranges whose hashes prove the tree of old_size is a prefix of new_size's.

    RFC 9162 section 2.1.4.1: SUBPROOF(m, D[n], true), walked from the root down and
    reversed. Empty when the sizes are equal.
    """
    if not 0 < old_size <= new_size:
        raise ValueError(f"no consistency proof from size {old_size} to size {new_size}")
    ranges: list[tuple[int, int]] = []
    begin, end = 0, new_size
    whole_old_tree = True  # SUBPROOF's b: is the old tree's root still one of ours?
    while old_size - begin != end - begin:
        middle = begin + _split(end - begin)
        if old_size <= middle:
            ranges.append((middle, end))
            end = middle
        else:
            ranges.append((begin, middle))
            begin = middle
            whole_old_tree = False
    if not whole_old_tree:
        ranges.append((begin, end))
    ranges.reverse()
    return ranges


def inclusion_proof(store: NodeStore, *, index: int, size: int) -> list[bytes]:
    """Return the audit path proving leaf `index` is in the tree of the first `size` leaves."""
    return _hash_ranges(store, inclusion_ranges(index=index, size=size))


def consistency_proof(store: NodeStore, *, old_size: int, new_size: int) -> list[bytes]:
    """Return the proof that the tree of old_size leaves is a prefix of that of new_size."""
    return _hash_ranges(store, consistency_ranges(old_size=old_size, new_size=new_size))


def _check_hash(value: bytes, what: str) -> None:
    if len(value) != HASH_SIZE:
        raise InvalidProofError(f"{what} has {len(value)} bytes, not {HASH_SIZE}")


def root_from_inclusion_proof(
    *, leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes]
) -> bytes:
    """Return the root that an audit path implies for a leaf (RFC 9162 section 2.1.3.2)."""
    if not 0 <= index < size:
        raise InvalidProofError(f"leaf {index} is not in a tree of size {size}")
    _check_hash(leaf_hash, "the leaf hash")
    fn, sn = index, size - 1
    result = leaf_hash
    for sibling in proof:
        _check_hash(sibling, "a proof hash")
        if sn == 0:
            raise InvalidProofError("the proof is longer than the path to the root")
        if fn & 1 or fn == sn:
            result = node_hash(sibling, result)
            # On the right edge a node can have no right sibling: climb past those levels.
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            result = node_hash(result, sibling)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise InvalidProofError("the proof is shorter than the path to the root")
    return result


def verify_inclusion(
    *, leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that leaf `index` of the tree of `size` leaves with this root has this hash.

    Raise InvalidProofError when it does not; return None when it does. The root is what
    commits to the size (a path can fit more than one size), so take both from one
    signed checkpoint.
    """
    computed = root_from_inclusion_proof(leaf_hash=leaf_hash, index=index, size=size, proof=proof)
    if not hmac.compare_digest(computed, root):
        raise InvalidProofError("the audit path leads to another root")


def verify_consistency(
    *,
    old_size: int,
    new_size: int,
    old_root: bytes,
    new_root: bytes,
    proof: Sequence[bytes],
) -> None:
    """Check that the tree of old_size leaves is a prefix of the tree of new_size leaves.

    RFC 9162 section 2.1.4.2. A proof from the empty tree proves nothing and is refused.
    Raise InvalidProofError when the proof fails; return None when it holds.
    """
    if not 0 < old_size <= new_size:
        raise InvalidProofError(f"no consistency proof from size {old_size} to size {new_size}")
    if old_size == new_size:
        # Nothing is hashed, so the roots are only compared (whatever their length, as in
        # transparency-dev/merkle's probes).
        if proof:
            raise InvalidProofError("equal sizes need an empty proof")
        if not hmac.compare_digest(old_root, new_root):
            raise InvalidProofError("two different roots for the same tree size")
        return
    _check_hash(old_root, "the old root")
    _check_hash(new_root, "the new root")
    for node in proof:
        _check_hash(node, "a proof hash")
    if not proof:
        raise InvalidProofError("the proof is empty")
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        # The old tree is a complete subtree of the new one: its root starts the path.
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    old_result = new_result = path[0]
    for node in path[1:]:
        if sn == 0:
            raise InvalidProofError("the proof is longer than the path to the root")
        if fn & 1 or fn == sn:
            old_result = node_hash(node, old_result)
            new_result = node_hash(node, new_result)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            new_result = node_hash(new_result, node)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise InvalidProofError("the proof is shorter than the path to the root")
    if not hmac.compare_digest(old_result, old_root):
        raise InvalidProofError("the proof leads to another old root")
    if not hmac.compare_digest(new_result, new_root):
        raise InvalidProofError("the proof leads to another new root")


def append_leaves(store: NodeStore, *, size: int, leaf_hashes: Iterable[bytes]) -> int:
    """Append leaf hashes to the tree of `size` leaves; store what they complete.

    Writes each leaf (level 0) and every subtree it finishes, in one ``put_nodes`` call,
    after reading only the frontier of the current tree. `size` must be the store's
    size: a smaller one collides with stored nodes (the store refuses), a larger one
    misses frontier nodes (MissingNodeError). Return the new size.
    """
    frontier_ids = compact_range(0, size)
    # Complete subtrees still waiting for a right sibling, largest (leftmost) first.
    frontier = list(zip(frontier_ids, store.get_nodes(frontier_ids), strict=True))
    new_nodes: list[tuple[NodeId, bytes]] = []
    for value in leaf_hashes:
        if len(value) != HASH_SIZE:
            raise ValueError(f"a leaf hash has {len(value)} bytes, not {HASH_SIZE}")
        level, index, current = 0, size, value
        new_nodes.append(((level, index), current))
        while index & 1:  # a right child: it completes its parent
            (left_level, left_index), left = frontier.pop()
            assert (left_level, left_index) == (level, index - 1)
            level, index, current = level + 1, index >> 1, node_hash(left, current)
            new_nodes.append(((level, index), current))
        frontier.append(((level, index), current))
        size += 1
    if new_nodes:
        store.put_nodes(new_nodes)
    return size


class MemoryNodeStore:
    """A node store in a dict: for tests, and for a verifier rebuilding a tree it holds."""

    def __init__(self) -> None:
        self.nodes: dict[NodeId, bytes] = {}

    def get_nodes(self, ids: Sequence[NodeId]) -> list[bytes]:
        """Return the hashes of the given nodes, in order."""
        try:
            return [self.nodes[node] for node in ids]
        except KeyError as missing:
            raise MissingNodeError(f"no node at (level, index) {missing.args[0]}") from None

    def put_nodes(self, nodes: Iterable[tuple[NodeId, bytes]]) -> None:
        """Add new nodes; refuse to replace one."""
        batch = dict(nodes)
        clash = batch.keys() & self.nodes.keys()
        if clash:
            raise ValueError(f"nodes are append-only; already stored: {min(clash)}")
        self.nodes.update(batch)

    def size(self) -> int:
        """Return the number of leaves stored."""
        return sum(1 for level, _ in self.nodes if level == 0)


class Frontier:
    """The tree's right edge while leaves are appended: one complete subtree per set bit."""

    def __init__(self) -> None:
        self.size = 0
        self.subtrees: list[tuple[int, bytes]] = []  # (level, hash), largest first

    def append(self, value: bytes) -> None:
        self._push(0, value)

    def extend(self, leaves: Sequence[bytes]) -> None:
        """Append leaf hashes, hashing each aligned run of 2**k of them level by level."""
        sha256 = hashlib.sha256
        start = 0
        while start < len(leaves):
            # The largest complete subtree that can start at self.size and fits.
            room = self.size & -self.size or 1 << 62
            count = 1 << ((min(room, len(leaves) - start)).bit_length() - 1)
            level = leaves[start : start + count]
            height = 0
            while len(level) > 1:
                level = [
                    sha256(b"\x01" + left + right).digest()
                    for left, right in zip(level[0::2], level[1::2], strict=True)
                ]
                height += 1
            self._push(height, level[0], count)
            start += count

    def _push(self, level: int, value: bytes, count: int = 1) -> None:
        while self.subtrees and self.subtrees[-1][0] == level:
            _, left = self.subtrees.pop()
            level, value = level + 1, node_hash(left, value)
        self.subtrees.append((level, value))
        self.size += count

    def root(self) -> bytes:
        """Return the RFC 9162 root of the leaves so far (size >= 1)."""
        result = self.subtrees[-1][1]
        for _, left in reversed(self.subtrees[:-1]):
            result = node_hash(left, result)
        return result
