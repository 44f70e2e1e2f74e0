"""Print the Merkle tree's costs: proof latency, signing a tree head, recomputing the tree.

Against a migrated database (DATABASE_URL); an empty one is seeded with --rows events
first (bench.seed, which appends the tree as the sealer would).

    DATABASE_URL=postgres://... VAR_DIR=... python -m bench.tree_proofs --rows 200000
"""

import argparse
import math
import os
import random
import statistics
import time

import django


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[int(0.95 * (len(ordered) - 1))]
    return f"p50 {statistics.median(ordered) * 1000:.2f} ms, p95 {p95 * 1000:.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="events to seed if empty")
    parser.add_argument("--samples", type=int, default=300)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ocr_project.settings")
    django.setup()
    from audit.models import AuditEvent
    from audit.transparency.node_store import DatabaseNodeStore
    from audit.transparency.proofs import event_inclusion_proof, tree_consistency_proof
    from audit.transparency.tree_heads import sign_tree_head
    from audit.transparency.verification import verify_tree
    from bench.seed import seed

    if not AuditEvent.objects.exists():
        began = time.perf_counter()
        seed(rows=args.rows)
        print(f"seeded {args.rows:,} events and their tree in {time.perf_counter() - began:.1f} s")
    store = DatabaseNodeStore()
    size = store.size()
    print(f"tree of {size:,} leaves; load average {os.getloadavg()[0]:.1f}")
    began = time.perf_counter()
    sign_tree_head()
    print(f"sign_tree_head: {(time.perf_counter() - began) * 1000:.1f} ms")
    rng = random.Random(7)
    ids = list(AuditEvent.objects.filter(sequence__isnull=False).values_list("id", flat=True))
    # RFC 9162 bounds both proofs by ceil(log2 n) hashes of 32 bytes (the target).
    bound = 32 * math.ceil(math.log2(size)) if size > 1 else 0
    inclusion, inclusion_bytes = [], 0
    for event_id in rng.sample(ids, min(args.samples, len(ids))):
        began = time.perf_counter()
        proof = event_inclusion_proof(event_id=event_id, size=size)
        inclusion.append(time.perf_counter() - began)
        inclusion_bytes = max(inclusion_bytes, 32 * len(proof.proof))
    print(
        f"inclusion proof at size {size:,}: {percentiles(inclusion)}; "
        f"largest {inclusion_bytes} bytes (bound 32*ceil(log2 n) = {bound})"
    )
    consistency, consistency_bytes = [], 0
    for _ in range(args.samples):
        old = rng.randint(1, size)
        began = time.perf_counter()
        hashes = tree_consistency_proof(old_size=old, new_size=size).proof
        consistency.append(time.perf_counter() - began)
        consistency_bytes = max(consistency_bytes, 32 * len(hashes))
    print(
        f"consistency proof to size {size:,}: {percentiles(consistency)}; "
        f"largest {consistency_bytes} bytes (bound {bound})"
    )
    began = time.perf_counter()
    verdict = verify_tree()
    seconds = time.perf_counter() - began
    print(f"verify_tree: {verdict} in {seconds:.2f} s ({verdict.leaves_checked / seconds:,.0f}/s)")


if __name__ == "__main__":
    main()
