"""Figures 1 and 2: recording throughput, and what auditing adds to a request."""

import statistics
import sys
import threading
import time
from contextlib import contextmanager

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, connections
from django.test import Client

from audit import services
from audit.client import ClientContext
from audit.integrity import verify_chain
from audit.models import ChainHead
from bench.context import Context
from bench.timing import Row, interleaved, median_ratio, percentile

WRITE_TARGET = 1500


def writer(*, events: int, latencies: list[float], errors: list[str], user, barrier) -> None:
    """Record `events` events on this thread's own database connection."""
    client = ClientContext(ip_address="203.0.113.9", user_agent="bench-writer", request_id="")
    try:
        barrier.wait()
        for index in range(events):
            started = time.perf_counter()
            services.record_event(
                event_type="auth_token_refresh",
                user=user,
                client=ClientContext(
                    ip_address=client.ip_address,
                    user_agent=client.user_agent,
                    request_id=f"bench-{threading.get_ident()}-{index}",
                ),
                metadata={"bench": True, "index": index},
            )
            latencies.append(time.perf_counter() - started)
    except Exception as error:  # reported in the table, not raised from a thread
        errors.append(f"{type(error).__name__}: {error}")
    finally:
        connections.close_all()


def run_writes(ctx: Context) -> None:
    user = get_user_model().objects.get(pk=ctx.seed.user_ids[0])
    total = 300 if ctx.quick else 4000
    first_new = ChainHead.objects.get(pk=1).sequence + 1
    for threads in (1, 4, 8):
        per_thread = max(1, total // threads)
        latencies: list[float] = []
        errors: list[str] = []
        barrier = threading.Barrier(threads + 1)
        workers = [
            threading.Thread(
                target=writer,
                kwargs={
                    "events": per_thread,
                    "latencies": latencies,
                    "errors": errors,
                    "user": user,
                    "barrier": barrier,
                },
            )
            for _ in range(threads)
        ]
        for thread in workers:
            thread.start()
        barrier.wait()
        started = time.perf_counter()
        for thread in workers:
            thread.join()
        seconds = time.perf_counter() - started
        recorded = len(latencies)
        rate = recorded / seconds
        target = f">= {WRITE_TARGET:,}/s with 8 writers (PostgreSQL)"
        ctx.add(
            Row(
                figure="1",
                backend=ctx.backend,
                case=f"{threads} writer{'s' if threads > 1 else ''}",
                p50=statistics.median(latencies) * 1000 if latencies else None,
                p95=percentile(latencies, 0.95) * 1000 if latencies else None,
                value=rate,
                value_label="events/s",
                target=target if threads == 8 else "",
                ok=(rate >= WRITE_TARGET and not errors)
                if (threads == 8 and ctx.backend == "postgresql")
                else None,
                samples=recorded,
                note=f"{recorded:,} events in {seconds:.2f} s"
                + (f"; {len(errors)} errors: {errors[0][:120]}" if errors else ""),
            )
        )
    started = time.perf_counter()
    result = verify_chain(from_sequence=first_new)
    ctx.add(
        Row(
            figure="1",
            backend=ctx.backend,
            case="chain verifies afterwards",
            unit="",
            target="verify_chain ok",
            ok=result.ok,
            note=f"{result.rows_checked:,} new events checked in "
            f"{time.perf_counter() - started:.2f} s: {result.reason}",
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
    settings.AUDIT_SEALING = "background"
    connection.close()
