"""Figure audit-api-pages: the audit API at scale, its cursor pages beside page numbers.

Each request is timed twice, interleaved: through the service's cursor pagination
(audit-api-pages) and through the same view with page numbers and COUNT(*), as
paperless-ngx pages (audit-api-counted-pages, bench/paged_api.py).
"""

from datetime import datetime, timedelta
from urllib.parse import urlencode

from django.db import connection
from django.test.utils import CaptureQueriesContext

from bench.context import Context, get_ok
from bench.timing import Row, interleaved, median_ratio

API = "/api/v2/admin/audit-logs"
PAGED = "/bench/audit-logs-paged"
DEEP_PAGES = 50
FIGURE = "audit-api-pages"
COUNTED = "audit-api-counted-pages"
COUNT_PLAN = f"{COUNTED}: COUNT(*) unfiltered"


def cursor_page(client, depth: int) -> str:
    """Follow `next` from the first page to page `depth`; return that page's URL."""
    url = API
    for _ in range(depth - 1):
        url = get_ok(client, url).json()["next"]
        assert url, "ran out of pages"
    return url.replace("http://testserver", "")


def cases(ctx: Context, client) -> dict[str, tuple]:
    """Return {case: (cursor URL builder, page-number URL builder)} for round n."""
    seed = ctx.seed
    first = datetime.fromisoformat(seed.first_timestamp)
    last = datetime.fromisoformat(seed.last_timestamp)
    rng = ctx.rng("api")
    users = seed.user_ids
    ips = list(seed.ips)
    request_ids = seed.request_ids or [""]
    deep_url = cursor_page(client, DEEP_PAGES)

    def window(n: int) -> dict[str, str]:
        # A 30-day window somewhere in the 180 days, different every round.
        span = (last - first) - timedelta(days=30)
        since = first + span * ((n * 7919) % 1000 / 1000)
        return {"since": since.isoformat(), "until": (since + timedelta(days=30)).isoformat()}

    def filtered(n: int) -> str:
        params = {"event_type": "auth_token_refresh", "user_id": users[n % len(users)]}
        params.update(window(n))
        return urlencode(params)

    rng.shuffle(ips)
    return {
        "first page": (lambda n: API, lambda n: PAGED),
        f"{DEEP_PAGES} pages deep": (lambda n: deep_url, lambda n: f"{PAGED}?page={DEEP_PAGES}"),
        "type+user+time range": (
            lambda n: f"{API}?{filtered(n)}",
            lambda n: f"{PAGED}?{filtered(n)}",
        ),
        "busiest user, one type": (
            lambda n: f"{API}?event_type=auth_token_refresh&user_id={seed.busy_user_id}",
            lambda n: f"{PAGED}?event_type=auth_token_refresh&user_id={seed.busy_user_id}",
        ),
        # Staff never refresh tokens: a filter with no match must not walk the table.
        "type+user, no match": (
            lambda n: f"{API}?event_type=auth_token_refresh&user_id={seed.staff_id}",
            lambda n: f"{PAGED}?event_type=auth_token_refresh&user_id={seed.staff_id}",
        ),
        "time range only (30 days)": (
            lambda n: f"{API}?{urlencode(window(n))}",
            lambda n: f"{PAGED}?{urlencode(window(n))}",
        ),
        "by IP": (
            lambda n: f"{API}?ip_address={ips[n % len(ips)]}",
            lambda n: f"{PAGED}?ip_address={ips[n % len(ips)]}",
        ),
        "by request_id": (
            lambda n: f"{API}?request_id={request_ids[n % len(request_ids)]}",
            lambda n: f"{PAGED}?request_id={request_ids[n % len(request_ids)]}",
        ),
    }


def run(ctx: Context) -> None:
    client = ctx.staff_client()
    target_ms = 50 if ctx.backend == "postgresql" else 100
    for case, (cursor_url, paged_url) in cases(ctx, client).items():
        series = interleaved(
            {
                "cursor": lambda n, build=cursor_url: get_ok(client, build(abs(n))),  # type: ignore[misc]  # mypy cannot infer a lambda with a default
                "paged": lambda n, build=paged_url: get_ok(client, build(abs(n))),  # type: ignore[misc]  # mypy cannot infer a lambda with a default
            },
            repeats=ctx.repeats,
            warmup=2,
        )
        cursor, paged = series["cursor"], series["paged"]
        ctx.add(
            Row(
                figure=FIGURE,
                backend=ctx.backend,
                case=case,
                p50=cursor.p50_ms,
                p95=cursor.p95_ms,
                target=f"p95 <= {target_ms} ms",
                ok=cursor.p95_ms <= target_ms,
                samples=len(cursor.samples),
            )
        )
        ratio = median_ratio(paged, cursor)
        ctx.add(
            Row(
                figure=COUNTED,
                backend=ctx.backend,
                case=case,
                p50=paged.p50_ms,
                p95=paged.p95_ms,
                value=ratio,
                value_label=f"x of {FIGURE}",
                target="report ratio",
                samples=len(paged.samples),
            )
        )
    explain_listing(ctx, client)


def explain_listing(ctx: Context, client) -> None:
    """Capture the listing query each key request runs and EXPLAIN it."""
    seed = ctx.seed
    key_requests = {
        "first page": API,
        "filtered page (type+user+time)": (
            f"{API}?event_type=auth_token_refresh&user_id={seed.user_ids[0]}"
            f"&since={seed.first_timestamp[:10]}T00:00:00Z&until={seed.last_timestamp[:10]}T00:00:00Z"
        ),
        "by IP": f"{API}?ip_address={seed.ips[0]}",
        "by request id": f"{API}?request_id={(seed.request_ids or [''])[0]}",
        "type+user, no match": f"{API}?event_type=auth_token_refresh&user_id={seed.staff_id}",
        "time range only": (
            f"{API}?since={seed.first_timestamp[:10]}T00:00:00Z"
            f"&until={seed.first_timestamp[:7]}-28T00:00:00Z"
        ),
        COUNT_PLAN: PAGED,
    }
    for name, url in key_requests.items():
        with CaptureQueriesContext(connection) as captured:
            get_ok(client, url)
        table = '"audit_auditevent"'
        wanted = [
            q["sql"]
            for q in captured.captured_queries
            if q["sql"].startswith("SELECT") and f"FROM {table}" in q["sql"]
        ]
        if name == COUNT_PLAN:
            wanted = [sql for sql in wanted if "COUNT(" in sql.upper()]
        else:
            wanted = [sql for sql in wanted if "ORDER BY" in sql and "LIMIT" in sql]
        if not wanted:
            ctx.explain[name] = "(query not found)"
            continue
        ctx.explain[name] = explain(wanted[0])


def explain(sql: str) -> str:
    """Return the plan of one query: EXPLAIN ANALYZE on PostgreSQL, QUERY PLAN on SQLite."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sql)
            plan = "\n".join(row[0] for row in cursor.fetchall())
        else:
            cursor.execute("EXPLAIN QUERY PLAN " + sql)
            plan = "\n".join(f"{row[3]}" for row in cursor.fetchall())
    return f"{sql}\n--\n{plan}"
