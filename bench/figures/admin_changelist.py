"""Figure admin-changelist: the Django admin's audit changelist at scale."""

from datetime import datetime

from bench.context import Context, get_ok
from bench.timing import Row, interleaved

CHANGELIST = "/admin/audit/auditevent/"
TARGET_MS = 300
FIGURE = "admin-changelist"


def admin_urls(ctx: Context) -> dict[str, str]:
    """Return {case: URL} of the changelist: default, filtered, drilled by date, searched."""
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


def people_urls(ctx: Context) -> dict[str, str]:
    """Return {case: URL} of what staff do in our audit list and a stock changelist lacks."""
    return {
        "reads shown (toggle)": f"{CHANGELIST}?reads=shown",
        "user filter username=<user>": f"{CHANGELIST}?username=user0001",
        # Ten of 2,000 users; typed in another case than stored.
        "searched q=USER001 (prefix, any case)": f"{CHANGELIST}?q=USER001",
        "searched q=zzz (prefix, no match)": f"{CHANGELIST}?q=zzz",
    }


def run(ctx: Context) -> None:
    client = ctx.staff_client()
    for case, url in {**admin_urls(ctx), **people_urls(ctx)}.items():
        series = interleaved(
            {"admin": lambda n, u=url: get_ok(client, u)},  # type: ignore[misc]  # mypy cannot infer a lambda with a default
            repeats=max(5, ctx.repeats // 2),
            budget_s=45,
        )["admin"]
        ctx.add(
            Row(
                figure=FIGURE,
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
