"""Figure 4: the Django admin's audit changelist at scale."""

from datetime import datetime, timedelta
from urllib.parse import urlencode

from bench.context import Context
from bench.timing import Row, interleaved, median_ratio

CHANGELIST = "/admin/audit/auditevent/"
TARGET_MS = 300


def admin_urls(ctx: Context) -> dict[str, str]:
    """Return {case: URL} of the changelist: unfiltered, filtered, drilled by date, searched."""
    middle = datetime.fromisoformat(ctx.seed.first_timestamp)
    last = datetime.fromisoformat(ctx.seed.last_timestamp)
    middle = middle + (last - middle) / 2
    return {
        "unfiltered": CHANGELIST,
        "filtered event_type": f"{CHANGELIST}?event_type__exact=auth_login",
        "date_hierarchy month": (
            f"{CHANGELIST}?timestamp__year={middle.year}&timestamp__month={middle.month}"
        ),
        "searched q=<ip>": f"{CHANGELIST}?q={ctx.seed.ips[0]}",
    }


def proposed_urls(ctx: Context) -> dict[str, str]:
    """Return the same four views of bench/admin_variant.py's changelist."""
    base = "/bench-admin/audit/auditevent/"
    middle = datetime.fromisoformat(ctx.seed.first_timestamp)
    middle = middle + (datetime.fromisoformat(ctx.seed.last_timestamp) - middle) / 2
    month = middle.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    following = (month + timedelta(days=32)).replace(day=1)
    return {
        "unfiltered": base,
        "filtered event_type": f"{base}?event_type__exact=auth_login",
        # What the timestamp list filter's links look like: aware bounds, one month.
        "date_hierarchy month": f"{base}?"
        + urlencode({"timestamp__gte": str(month), "timestamp__lt": str(following)}),
        "searched q=<ip>": f"{base}?q={ctx.seed.ips[0]}",
    }


def run_proposed(ctx: Context) -> None:
    """Figure 4p: today's changelist and the proposed one, interleaved."""
    client = ctx.staff_client()
    proposed = proposed_urls(ctx)
    for case, url in admin_urls(ctx).items():
        series = interleaved(
            {
                "today": lambda n, u=url: get_ok(client, u),
                "proposed": lambda n, u=proposed[case]: get_ok(client, u),
            },
            repeats=max(5, ctx.repeats // 2),
            budget_s=45,
        )
        ctx.add(
            Row(
                figure="4p",
                backend=ctx.backend,
                case=case,
                p50=series["proposed"].p50_ms,
                p95=series["proposed"].p95_ms,
                value=median_ratio(series["proposed"], series["today"]),
                value_label="x of today",
                target=f"<= {TARGET_MS} ms",
                ok=series["proposed"].p50_ms <= TARGET_MS,
                samples=len(series["proposed"].samples),
                note=f"today here p50 {series['today'].p50_ms:,.0f} ms; bench/admin_variant.py",
            )
        )


def get_ok(client, url: str):
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code, response.content[:300])
    return response


def run(ctx: Context) -> None:
    client = ctx.staff_client()
    for case, url in admin_urls(ctx).items():
        series = interleaved(
            {"admin": lambda n, u=url: get_ok(client, u)},
            repeats=max(5, ctx.repeats // 2),
            budget_s=45,
        )["admin"]
        ctx.add(
            Row(
                figure="4",
                backend=ctx.backend,
                case=case,
                p50=series.p50_ms,
                p95=series.p95_ms,
                target=f"<= {TARGET_MS} ms",
                ok=series.p50_ms <= TARGET_MS,
                samples=len(series.samples),
                note="target read as p50",
            )
        )
