"""Figure request-on-off: the project's own requests with auditing on and off, interleaved.

Beside django-auditlog and django-easy-audit, on the same kinds of request, is
request-overhead (request_overhead.py); bench/peers/worker.py switches auditing off
with the same two helpers.
"""

import sys
from contextlib import contextmanager

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client

from audit import services
from audit.sealing import batches
from bench.context import Context
from bench.timing import Row, interleaved, median_ratio

FIGURE = "request-on-off"


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
    every request made "off" look slower than "on".
    """
    real = services.record_event
    for module in modules:
        module.record_event = no_op
    try:
        yield
    finally:
        for module in modules:
            module.record_event = real


def run(ctx: Context) -> None:
    """Time three requests with auditing on and off, under the locked design and the sealer."""
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
                    figure=FIGURE,
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
