"""Figure record-event-link: what the keyed chain link costs record_event, beside plain SHA-256.

Throughput from several writer processes is writer-processes (writer_processes.py).
"""

import hashlib
from contextlib import contextmanager

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

from audit import services
from audit.chain import ChainKey, KeyRing, key_ring
from audit.recording.client import ClientContext
from audit.sealing import batches, refusals
from bench.context import Context
from bench.timing import Row, interleaved, median_ratio

FIGURE = "record-event-link"


class PlainKey(ChainKey):
    """The chain before keys: a plain SHA-256 link, under the real key's id."""

    def mac(self, payload: bytes) -> str:
        return hashlib.sha256(payload).hexdigest()


@contextmanager
def signing_with(key: ChainKey):
    """Make `key` the signing key of the ring record_event (writer MAC) and the sealer use."""
    real = refusals.key_ring

    def ring():
        ring = real()
        return KeyRing(signing=key, keys={**ring.keys, key.key_id: key})

    refusals.key_ring = batches.key_ring = ring
    try:
        yield
    finally:
        refusals.key_ring = batches.key_ring = real


def run(ctx: Context) -> None:
    """Time record_event with the keyed link and with plain SHA-256, then with the sealer.

    The locked design (AUDIT_SEALING=inline) links each event in its writer, so the
    link is part of record_event's cost there; with the sealer it is not at all. Both
    sides run interleaved in one transaction that is rolled back: the plain links
    would not verify under the key id they carry, and must not stay in the trail.
    """
    user = get_user_model().objects.get(pk=ctx.seed.user_ids[0])
    keyed = key_ring().signing
    plain = PlainKey(keyed.key_id, keyed.secret.encode("utf-8"))
    client = ClientContext(ip_address="203.0.113.9", user_agent="bench-writer", request_id="")

    def record(n):
        services.record_event(
            event_type="auth_token_refresh",
            user=user,
            client=client,
            metadata={"bench": True, "index": n},
        )

    def with_key(key):
        def run(n):
            with signing_with(key):
                record(n)

        return run

    repeats = 200 if ctx.quick else 2000
    settings.AUDIT_SEALING = "inline"
    try:
        with transaction.atomic():
            series = interleaved(
                {"keyed": with_key(keyed), "plain": with_key(plain)}, repeats=repeats, warmup=20
            )
            transaction.set_rollback(True)
    finally:
        settings.AUDIT_SEALING = "background"
    ratio = median_ratio(series["keyed"], series["plain"])
    ctx.add(
        Row(
            figure=FIGURE,
            backend=ctx.backend,
            case="record_event, HMAC-SHA256 link vs plain SHA-256 [locked]",
            p50=series["keyed"].p50_ms,
            p95=series["keyed"].p95_ms,
            value=ratio,
            value_label="keyed/plain",
            target="ratio <= 1.10",
            ok=ratio <= 1.10,
            samples=len(series["keyed"].samples),
            note=f"plain: p50 {series['plain'].p50_ms:.2f} ms, "
            f"p95 {series['plain'].p95_ms:.2f} ms; rolled back",
        )
    )
    # The sealer design: record_event computes no link at all.
    with transaction.atomic():
        series = interleaved({"background": record}, repeats=repeats, warmup=20)
        transaction.set_rollback(True)
    ctx.add(
        Row(
            figure=FIGURE,
            backend=ctx.backend,
            case="record_event, one INSERT, linked later [sealer]",
            p50=series["background"].p50_ms,
            p95=series["background"].p95_ms,
            samples=len(series["background"].samples),
            note="no link computed in the writer; rolled back",
        )
    )
