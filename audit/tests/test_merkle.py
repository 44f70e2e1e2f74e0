"""RFC 6962 Merkle trees: published test vectors, a reference tree, and tampered proofs.

The vectors are transparency-dev/merkle's (audit/tests/vectors/transparency_dev_merkle.json
says where each comes from); the reference is RFC 9162's recursive definitions written
out as plainly as possible, against which the node-store code is compared at every size.
"""

import base64
import json
import random
from collections.abc import Sequence
from math import ceil, log2
from pathlib import Path

import pytest

from audit.transparency.verifier.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    Frontier,
    InvalidProofError,
    MemoryNodeStore,
    MissingNodeError,
    NodeId,
    append_leaves,
    compact_range,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_hash,
    verify_consistency,
    verify_inclusion,
)

VECTORS = json.loads(
    (Path(__file__).parent / "vectors" / "transparency_dev_merkle.json").read_text()
)
LEAF_INPUTS = [bytes.fromhex(leaf) for leaf in VECTORS["leaf_inputs"]]


def b64(text: str) -> bytes:
    return base64.b64decode(text) if text else b""


def proof_of(probe: dict) -> list[bytes]:
    return [b64(node) for node in probe["proof"] or []]


# --- The reference: RFC 9162 section 2.1, recursively, from the leaf data itself ----------


def split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(leaves: Sequence[bytes]) -> bytes:
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaf_hash(leaves[0])
    k = split(len(leaves))
    return node_hash(mth(leaves[:k]), mth(leaves[k:]))


def path(m: int, leaves: Sequence[bytes]) -> list[bytes]:
    if len(leaves) == 1:
        return []
    k = split(len(leaves))
    if m < k:
        return [*path(m, leaves[:k]), mth(leaves[k:])]
    return [*path(m - k, leaves[k:]), mth(leaves[:k])]


def subproof(m: int, leaves: Sequence[bytes], whole: bool) -> list[bytes]:
    if m == len(leaves):
        return [] if whole else [mth(leaves)]
    k = split(len(leaves))
    if m <= k:
        return [*subproof(m, leaves[:k], whole), mth(leaves[k:])]
    return [*subproof(m - k, leaves[k:], False), mth(leaves[:k])]


def tree_of(leaves: Sequence[bytes], *, chunk: int = 1) -> MemoryNodeStore:
    store = MemoryNodeStore()
    size = 0
    for start in range(0, len(leaves), chunk):
        batch = [leaf_hash(leaf) for leaf in leaves[start : start + chunk]]
        size = append_leaves(store, size=size, leaf_hashes=batch)
    return store


LEAVES_64 = [f"leaf {i}".encode() for i in range(64)]
TREE_64 = tree_of(LEAVES_64, chunk=5)


def flipped(value: bytes, bit: int = 0) -> bytes:
    return bytes([value[0] ^ (1 << bit), *value[1:]])


# --- Published vectors ---------------------------------------------------------------------


def test_hasher_vectors():
    hasher = VECTORS["hasher"]
    assert EMPTY_ROOT.hex() == hasher["empty_root"]
    assert leaf_hash(b"").hex() == hasher["leaf_hash_of_empty"]
    assert leaf_hash(b"L123456").hex() == hasher["leaf_hash_of_L123456"]
    assert node_hash(b"N123", b"N456").hex() == hasher["node_hash_of_N123_N456"]


@pytest.mark.parametrize("chunk", [1, 3, 8])
def test_rfc6962_reference_tree_roots_for_every_size(chunk):
    store = tree_of(LEAF_INPUTS, chunk=chunk)
    roots = [root_hash(store, size=size).hex() for size in range(len(LEAF_INPUTS) + 1)]
    assert roots == VECTORS["roots"]


def test_rfc6962_reference_tree_stores_exactly_its_complete_subtrees():
    store = tree_of(LEAF_INPUTS, chunk=3)
    expected = {
        (level, index): bytes.fromhex(value)
        for level, hashes in enumerate(VECTORS["node_hashes"])
        for index, value in enumerate(hashes)
    }
    assert store.nodes == expected


@pytest.mark.parametrize("probe", VECTORS["inclusion"], ids=lambda probe: probe["file"])
def test_inclusion_probes(probe):
    arguments = {
        "leaf_hash": b64(probe["leafHash"]),
        "index": probe["leafIdx"],
        "size": probe["treeSize"],
        "proof": proof_of(probe),
        "root": b64(probe["root"]),
    }
    if probe["wantErr"]:
        with pytest.raises(InvalidProofError):
            verify_inclusion(**arguments)
    else:
        verify_inclusion(**arguments)


@pytest.mark.parametrize("probe", VECTORS["consistency"], ids=lambda probe: probe["file"])
def test_consistency_probes(probe):
    arguments = {
        "old_size": probe["size1"],
        "new_size": probe["size2"],
        "old_root": b64(probe["root1"]),
        "new_root": b64(probe["root2"]),
        "proof": proof_of(probe),
    }
    if probe["wantErr"]:
        with pytest.raises(InvalidProofError):
            verify_consistency(**arguments)
    else:
        verify_consistency(**arguments)


def test_the_probe_sets_have_both_outcomes():
    # A vector file where every probe passes (or fails) would test nothing.
    for kind in ("inclusion", "consistency"):
        outcomes = {probe["wantErr"] for probe in VECTORS[kind]}
        assert outcomes == {True, False}, kind


def happy(kind: str) -> list[dict]:
    return [probe for probe in VECTORS[kind] if probe["desc"] == "happy path"]


@pytest.mark.parametrize("probe", happy("inclusion"), ids=lambda probe: probe["file"])
def test_generated_inclusion_proofs_are_the_published_ones(probe):
    store = tree_of(LEAF_INPUTS)
    assert leaf_hash(LEAF_INPUTS[probe["leafIdx"]]) == b64(probe["leafHash"])
    proof = inclusion_proof(store, index=probe["leafIdx"], size=probe["treeSize"])
    assert proof == proof_of(probe)
    assert root_hash(store, size=probe["treeSize"]) == b64(probe["root"])


@pytest.mark.parametrize("probe", happy("consistency"), ids=lambda probe: probe["file"])
def test_generated_consistency_proofs_are_the_published_ones(probe):
    store = tree_of(LEAF_INPUTS)
    proof = consistency_proof(store, old_size=probe["size1"], new_size=probe["size2"])
    assert proof == proof_of(probe)


def test_published_happy_paths_cover_several_trees():
    assert len(happy("inclusion")) >= 5
    assert len(happy("consistency")) >= 5


# --- Against the reference, at every size up to 64 -----------------------------------------


def test_roots_match_the_reference_for_every_size():
    for size in range(65):
        assert root_hash(TREE_64, size=size) == mth(LEAVES_64[:size]), size


def test_inclusion_proofs_match_the_reference_and_verify():
    for size in range(1, 65):
        root = mth(LEAVES_64[:size])
        for index in range(size):
            proof = inclusion_proof(TREE_64, index=index, size=size)
            assert proof == path(index, LEAVES_64[:size]), (index, size)
            verify_inclusion(
                leaf_hash=leaf_hash(LEAVES_64[index]),
                index=index,
                size=size,
                proof=proof,
                root=root,
            )


def test_consistency_proofs_match_the_reference_and_verify():
    for new_size in range(1, 65):
        new_root = mth(LEAVES_64[:new_size])
        for old_size in range(1, new_size + 1):
            proof = consistency_proof(TREE_64, old_size=old_size, new_size=new_size)
            assert proof == subproof(old_size, LEAVES_64[:new_size], True), (old_size, new_size)
            verify_consistency(
                old_size=old_size,
                new_size=new_size,
                old_root=mth(LEAVES_64[:old_size]),
                new_root=new_root,
                proof=proof,
            )


def inclusion_tampers(index: int, size: int, proof: list[bytes], leaf: bytes, root: bytes):
    """Yield (what, arguments) for every way an honest inclusion proof is altered here."""
    honest = {"leaf_hash": leaf, "index": index, "size": size, "proof": proof, "root": root}
    yield "leaf", {**honest, "leaf_hash": flipped(leaf)}
    yield "root", {**honest, "root": flipped(root, 7)}
    for other in {index - 1, index + 1, index ^ 1} - {index}:
        if 0 <= other < size:
            yield f"index {other}", {**honest, "index": other}
    # Not the size: the root commits to it (a checkpoint signs both), and an audit path
    # for leaf 0 of 5 leaves is also one for leaf 0 of 6, hashed the same way.
    for position in range(len(proof)):
        changed = list(proof)
        changed[position] = flipped(changed[position], position % 8)
        yield f"proof[{position}]", {**honest, "proof": changed}
        yield (
            f"without proof[{position}]",
            {**honest, "proof": proof[:position] + proof[position + 1 :]},
        )
    yield "longer", {**honest, "proof": [*proof, root]}
    yield "longer at the front", {**honest, "proof": [leaf, *proof]}
    if len(proof) > 1:
        yield "reversed", {**honest, "proof": proof[::-1]}


def test_tampered_inclusion_proofs_fail():
    checked = 0
    for size in range(1, 65):
        root = mth(LEAVES_64[:size])
        for index in range(size):
            proof = inclusion_proof(TREE_64, index=index, size=size)
            leaf = leaf_hash(LEAVES_64[index])
            for what, arguments in inclusion_tampers(index, size, proof, leaf, root):
                with pytest.raises(InvalidProofError):
                    verify_inclusion(**arguments)
                    pytest.fail(f"leaf {index} of {size}: {what} verified")
                checked += 1
    assert checked > 20_000


def test_tampered_consistency_proofs_fail():
    checked = 0
    for new_size in range(2, 65):
        new_root = mth(LEAVES_64[:new_size])
        for old_size in range(1, new_size):
            old_root = mth(LEAVES_64[:old_size])
            proof = consistency_proof(TREE_64, old_size=old_size, new_size=new_size)
            honest = {
                "old_size": old_size,
                "new_size": new_size,
                "old_root": old_root,
                "new_root": new_root,
                "proof": proof,
            }
            tampered = [
                {**honest, "old_root": flipped(old_root)},
                {**honest, "new_root": flipped(new_root, 3)},
                {**honest, "old_root": new_root, "new_root": old_root},
                {**honest, "proof": [*proof, new_root]},
                {**honest, "proof": proof[:-1]},
                {**honest, "proof": []},
                {**honest, "old_size": 0},
                {**honest, "old_size": new_size + 1},
            ]
            for position in range(len(proof)):
                changed = list(proof)
                changed[position] = flipped(changed[position], position % 8)
                tampered.append({**honest, "proof": changed})
            # Another old size fails with the honest roots (unless its proof is identical,
            # which two sizes never share with the same old root).
            for other in (old_size - 1, old_size + 1):
                if 0 < other < new_size:
                    tampered.append({**honest, "old_size": other})
            for arguments in tampered:
                with pytest.raises(InvalidProofError):
                    verify_consistency(**arguments)
                    pytest.fail(f"{old_size} -> {new_size}: {arguments} verified")
                checked += 1
    assert checked > 20_000


def test_equal_sizes_need_an_empty_proof_and_the_same_root():
    root = root_hash(TREE_64, size=10)
    verify_consistency(old_size=10, new_size=10, old_root=root, new_root=root, proof=[])
    with pytest.raises(InvalidProofError):
        verify_consistency(old_size=10, new_size=10, old_root=root, new_root=root, proof=[root])
    with pytest.raises(InvalidProofError):
        verify_consistency(
            old_size=10, new_size=10, old_root=root, new_root=flipped(root), proof=[]
        )


# --- Larger trees, random sizes ------------------------------------------------------------

RANDOM = random.Random(6962)
LARGE_LEAVES = [RANDOM.randbytes(RANDOM.randrange(0, 40)) for _ in range(5_000)]


@pytest.fixture(scope="module")
def large_tree():
    return tree_of(LARGE_LEAVES, chunk=777)


def test_large_tree_roots_match_the_reference(large_tree):
    for size in [*RANDOM.sample(range(65, 5_001), 10), 4_096, 4_097, 5_000]:
        assert root_hash(large_tree, size=size) == mth(LARGE_LEAVES[:size])


def test_large_tree_proofs_verify_and_tampered_ones_fail(large_tree):
    for _ in range(200):
        new_size = RANDOM.randrange(2, 5_001)
        old_size = RANDOM.randrange(1, new_size)
        index = RANDOM.randrange(new_size)
        new_root = root_hash(large_tree, size=new_size)
        old_root = root_hash(large_tree, size=old_size)
        proof = inclusion_proof(large_tree, index=index, size=new_size)
        leaf = leaf_hash(LARGE_LEAVES[index])
        verify_inclusion(leaf_hash=leaf, index=index, size=new_size, proof=proof, root=new_root)
        with pytest.raises(InvalidProofError):
            verify_inclusion(leaf_hash=leaf, index=index, size=new_size, proof=proof, root=old_root)
        victim = RANDOM.randrange(len(proof))
        proof[victim] = flipped(proof[victim], RANDOM.randrange(8))
        with pytest.raises(InvalidProofError):
            verify_inclusion(leaf_hash=leaf, index=index, size=new_size, proof=proof, root=new_root)
        consistency = consistency_proof(large_tree, old_size=old_size, new_size=new_size)
        verify_consistency(
            old_size=old_size,
            new_size=new_size,
            old_root=old_root,
            new_root=new_root,
            proof=consistency,
        )
        victim = RANDOM.randrange(len(consistency))
        consistency[victim] = flipped(consistency[victim], RANDOM.randrange(8))
        with pytest.raises(InvalidProofError):
            verify_consistency(
                old_size=old_size,
                new_size=new_size,
                old_root=old_root,
                new_root=new_root,
                proof=consistency,
            )


# --- Proof sizes and the cost of a proof ---------------------------------------------------


def test_proof_sizes_stay_logarithmic():
    # Inclusion: at most ceil(log2 n) hashes. Consistency: at most ceil(log2 n) + 1, and
    # the + 1 is reached (3 -> 4 needs c, d and H(a, b)), so the bound is not loose.
    reached_plus_one = False
    for new_size in range(2, 65):
        bound = HASH_SIZE * ceil(log2(new_size))
        for index in range(new_size):
            size = sum(map(len, inclusion_proof(TREE_64, index=index, size=new_size)))
            assert size <= bound, (index, new_size)
        for old_size in range(1, new_size):
            proof = consistency_proof(TREE_64, old_size=old_size, new_size=new_size)
            assert sum(map(len, proof)) <= bound + HASH_SIZE, (old_size, new_size)
            reached_plus_one |= sum(map(len, proof)) > bound
    assert reached_plus_one


class CountingStore:
    """A store of any size whose hashes are made up: counts what a proof reads."""

    def __init__(self) -> None:
        self.calls = 0
        self.reads = 0

    def get_nodes(self, ids: Sequence[NodeId]) -> list[bytes]:
        self.calls += 1
        self.reads += len(ids)
        return [leaf_hash(f"{level}/{index}".encode()) for level, index in ids]

    def put_nodes(self, nodes) -> None:
        raise AssertionError("a proof writes nothing")


@pytest.mark.parametrize("size", [10_000_000, 2**24 - 1, 2**40 + 12_345])
def test_a_proof_reads_logarithmically_many_nodes_in_one_call(size):
    levels = ceil(log2(size))
    for index in (0, size // 3, size - 1):
        store = CountingStore()
        proof = inclusion_proof(store, index=index, size=size)
        assert store.calls == 1
        assert len(proof) <= levels
        assert store.reads <= 2 * levels
    store = CountingStore()
    consistency_proof(store, old_size=size // 2 + 1, new_size=size)
    assert store.calls == 1
    assert store.reads <= 2 * levels + 1
    store = CountingStore()
    root_hash(store, size=size)
    assert (store.calls, store.reads) == (1, size.bit_count())


# --- Appending ------------------------------------------------------------------------------


def test_appending_in_any_chunks_stores_the_same_nodes():
    one_by_one = tree_of(LEAVES_64[:45], chunk=1)
    for chunk in (2, 7, 16, 45):
        assert tree_of(LEAVES_64[:45], chunk=chunk).nodes == one_by_one.nodes
    # 45 leaves: 45 + 22 + 11 + 5 + 2 + 1 complete subtrees.
    assert len(one_by_one.nodes) == 86
    assert one_by_one.size() == 45


def test_appending_at_a_stale_size_is_refused_and_changes_nothing():
    store = tree_of(LEAVES_64[:10])
    before = dict(store.nodes)
    with pytest.raises(ValueError, match="append-only"):
        append_leaves(store, size=9, leaf_hashes=[leaf_hash(b"late")])
    with pytest.raises(MissingNodeError):
        append_leaves(store, size=11, leaf_hashes=[leaf_hash(b"early")])
    assert store.nodes == before


def test_appending_refuses_what_is_not_a_hash():
    with pytest.raises(ValueError, match="32"):
        append_leaves(MemoryNodeStore(), size=0, leaf_hashes=[b"raw leaf data"])


def test_a_proof_beyond_the_stored_tree_is_refused():
    store = tree_of(LEAVES_64[:10])
    with pytest.raises(MissingNodeError):
        root_hash(store, size=11)
    with pytest.raises(ValueError):
        inclusion_proof(store, index=10, size=10)
    with pytest.raises(ValueError):
        consistency_proof(store, old_size=0, new_size=10)


def test_compact_range_covers_any_range_with_aligned_complete_subtrees():
    for begin in range(40):
        for end in range(begin, 70):
            covered = []
            for level, index in compact_range(begin, end):
                covered.extend(range(index << level, (index + 1) << level))
            assert covered == list(range(begin, end))
    assert compact_range(0, 13) == [(3, 0), (2, 2), (0, 12)]
    assert compact_range(3, 13) == [(0, 3), (2, 1), (2, 2), (0, 12)]


def test_the_frontier_gives_the_reference_root_however_the_leaves_come():
    """Appended one at a time, or extended by runs that do and do not line up with 2**k."""
    rng = random.Random(6962)
    data = [bytes([n % 256, n // 256]) for n in range(300)]
    leaves = [leaf_hash(item) for item in data]
    for size in [*range(1, 70), 255, 256, 257, 300]:
        one, runs = Frontier(), Frontier()
        for leaf in leaves[:size]:
            one.append(leaf)
        start = 0
        while start < size:
            step = rng.choice([1, 2, 3, 7, 8, 16, 33, 64])
            runs.extend(leaves[start : start + step][: size - start])
            start += step
        assert one.size == runs.size == size
        assert one.root() == runs.root() == mth(data[:size])
