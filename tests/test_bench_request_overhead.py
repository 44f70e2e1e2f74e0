"""The request-overhead figure's verdicts and its page (bench/figures/request_overhead.py)."""

from types import SimpleNamespace
from typing import cast

from bench.context import Context
from bench.figures import request_overhead
from bench.figures.request_overhead import KINDS, Worker, page, rows
from bench.timing import Row, Series


def worker(name: str, *, on_ms: float, off_ms: float, audit_inserts: int) -> Worker:
    prefix = request_overhead.CONFIGURATIONS[name][2]
    measured = Worker(name=name, process=None)  # type: ignore[arg-type]  # never asked
    for kind in KINDS:
        measured.on[kind] = Series([on_ms / 1000] * 3)
        measured.off[kind] = Series([off_ms / 1000] * 3)
        measured.inserts[kind] = [f"{prefix}event"] * audit_inserts + ["accounts_user_session"]
    return measured


def measured(backend: str, workers: list[Worker]) -> list[Row]:
    # rows() reads only the backend of the bench's context.
    return rows(cast(Context, SimpleNamespace(backend=backend)), workers)


def verdicts(*workers: Worker) -> dict[str, bool | None]:
    return {
        row.extra["kind"]: row.ok
        for row in measured("sqlite", list(workers))
        if row.extra["configuration"] == "project"
    }


def test_the_project_meets_the_target_at_or_below_every_peers_ratio():
    found = verdicts(
        worker("project", on_ms=11, off_ms=10, audit_inserts=1),
        worker("auditlog", on_ms=12, off_ms=10, audit_inserts=2),
        worker("easyaudit", on_ms=11, off_ms=10, audit_inserts=4),
    )
    assert found == dict.fromkeys(KINDS, True)


def test_the_project_misses_above_one_peers_ratio_or_with_two_inserts():
    above = verdicts(
        worker("project", on_ms=13, off_ms=10, audit_inserts=1),
        worker("auditlog", on_ms=12, off_ms=10, audit_inserts=2),
        worker("easyaudit", on_ms=20, off_ms=10, audit_inserts=4),
    )
    two_inserts = verdicts(
        worker("project", on_ms=10, off_ms=10, audit_inserts=2),
        worker("auditlog", on_ms=12, off_ms=10, audit_inserts=2),
    )
    assert set(above.values()) == {False}
    assert set(two_inserts.values()) == {False}


def test_without_a_peer_there_is_no_verdict():
    alone = verdicts(worker("project", on_ms=10, off_ms=10, audit_inserts=1))
    assert set(alone.values()) == {None}


def test_the_page_shows_each_configurations_ratio_and_the_verdict():
    workers = [
        worker("project", on_ms=13, off_ms=10, audit_inserts=1),
        worker("auditlog", on_ms=12, off_ms=10, audit_inserts=2),
    ]
    record = {
        "backend": "postgresql",
        "rows": 20_000,
        "pairs": 3,
        "date": "2026-12-07 08:00 UTC",
        "uptime_before": "load average: 1.00",
        "uptime_after": "load average: 2.00",
        "results": [row.as_dict() for row in measured("postgresql", workers)],
    }
    text = page([record])
    login = next(line for line in text.splitlines() if line.startswith(f"| {KINDS['login']}"))
    assert "**1.30** [1.30-1.30] (13.0 / 10.0 ms, 1 INSERT)" in login
    assert "**1.20** [1.20-1.20] (12.0 / 10.0 ms, 2 INSERT)" in login
    assert "not measured" in login  # django-easy-audit
    assert login.endswith("| **no** |")
    assert "load average: 2.00" in text
