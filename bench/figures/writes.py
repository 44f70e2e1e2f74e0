"""Figures 1 and 2: what the keyed chain costs a record, and what auditing adds to a request.

Throughput from several writer processes is figure 1p (write_processes.py).
"""

import hashlib
import sys
from contextlib import contextmanager

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.test import Client

from audit import services
from audit.chain import ChainKey, KeyRing, key_ring
from audit.recording.client import ClientContext
from audit.sealing import batches, refusals
from bench.context import Context
from bench.timing import Row, interleaved, median_ratio


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


def run_writes(ctx: Context) -> None:
    """Figure 1: what the keyed chain costs record_event, side by side with plain SHA-256.

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
            figure="1",
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
            figure="1",
            backend=ctx.backend,
            case="record_event, one INSERT, linked later [sealer]",
            p50=series["background"].p50_ms,
            p95=series["background"].p95_ms,
            samples=len(series["background"].samples),
            note="no link computed in the writer; rolled back",
        )
    )


def modules_calling_record_event() -> list:
    """Return the loaded modules that imported audit.services.record_event by name."""
    real = services.record_event
    return [
        module
        for module in list(sys.modules.values())
        if getattr(module, "record_event", None) is real
    ]


def no_op(**kwargs):
    return None


@contextmanager
def auditing_off(modules: list):
    """Replace record_event with a no-op in `modules`, in this process only.

    The modules are found once, outside the timed calls: scanning sys.modules on
    every request cost a millisecond and made "off" look slower than "on".
    """
    real = services.record_event
    for module in modules:
        module.record_event = no_op
    try:
        yield
    finally:
        for module in modules:
            module.record_event = real


def run_overhead(ctx: Context) -> None:
    """Figure 2: the same requests with auditing on and off, interleaved."""
    from accounts.services import issue_tokens

    user = get_user_model().objects.get(pk=ctx.seed.user_ids[1])
    pair, _ = issue_tokens(user)
    tokens = {"refresh": pair.refresh}
    api = Client(REMOTE_ADDR="198.51.100.20", HTTP_USER_AGENT="bench/1.0")
    staff = ctx.staff_client()

    def task_list(n):
        response = api.get("/api/v2/tasks", HTTP_AUTHORIZATION=f"Bearer {pair.access}")
        assert response.status_code == 200, response.content[:200]

    def refresh(n):
        response = api.post(
            "/api/v2/auth/refresh", {"refresh": tokens["refresh"]}, content_type="application/json"
        )
        assert response.status_code == 200, response.content[:200]
        tokens["refresh"] = response.json()["refresh"]

    def audit_page(n):
        response = staff.get("/api/v2/admin/audit-logs?page_size=20")
        assert response.status_code == 200, response.content[:200]

    # Every view and service module is imported by now (the calls above ran once).
    for call in (task_list, refresh, audit_page):
        call(-1)
    callers = modules_calling_record_event()

    def off(call):
        def run(n):
            with auditing_off(callers):
                call(n)

        return run

    # The locked design (every event linked under the chain head lock in its request)
    # and the sealer design (one INSERT; linking happens in the sealer, off the request).
    for mode, label in (("inline", "locked"), ("background", "sealer")):
        settings.AUDIT_SEALING = mode
        for case, call in (
            ("GET /api/v2/tasks (JWT)", task_list),
            ("POST /api/v2/auth/refresh", refresh),
            ("GET audit-logs first page", audit_page),
        ):
            series = interleaved({"on": call, "off": off(call)}, repeats=ctx.repeats * 2, warmup=3)
            ratio = median_ratio(series["on"], series["off"])
            ctx.add(
                Row(
                    figure="2",
                    backend=ctx.backend,
                    case=f"{case} [{label}]",
                    p50=series["on"].p50_ms,
                    p95=series["on"].p95_ms,
                    value=ratio,
                    value_label="on/off",
                    target="ratio <= 1.10" if mode == "background" else "",
                    ok=ratio <= 1.10 if mode == "background" else None,
                    samples=len(series["on"].samples),
                    note=f"off: p50 {series['off'].p50_ms:.1f} ms, "
                    f"p95 {series['off'].p95_ms:.1f} ms",
                )
            )
    # A sealer would have linked the "on" side's events within a second; left unsealed,
    # they would be linked behind the later figures' events, out of time order.
    settings.AUDIT_SEALING = "background"
    batches.seal_pending()
    connection.close()
