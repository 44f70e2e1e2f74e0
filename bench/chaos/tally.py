"""Count what the clients were promised against what the database holds; print the table.

Pure functions over plain data, so the verdict's arithmetic is tested on its own
(tests/test_chaos_tally.py) without namespaces.
"""

from collections import Counter
from dataclasses import dataclass, field

STORAGE_REFUSAL = "file_upload failure"


@dataclass
class StageCount:
    stage: str
    requests: int = 0
    answered_5xx_outside: int = 0
    answered_5xx_inside: int = 0  # in a restart window: allowed, counted apart
    storage_full: int = 0  # 507 naming storage_full: the promised refusal
    no_answer: int = 0
    lost: int = 0
    duplicated: int = 0
    verify_exit: int | None = None
    note: str = ""


@dataclass
class Verdict:
    stages: list[StageCount]
    tasks_submitted: int = 0
    tasks_completed: int = 0
    tasks_stuck: int = 0
    tasks_failed: int = 0
    tasks_reclaimed: int = 0  # read again after their worker died (attempts > 1)
    takeover_seconds: float | None = None
    broken: list[str] = field(default_factory=list)


def inside(moment: float, windows: list[tuple[float, float]]) -> bool:
    return any(start <= moment <= end for start, end in windows)


def expected_events(exchange) -> list[str] | None:
    """Return the events an answer promised; a 507 storage refusal promises its audit row."""
    if exchange.status == 507 and getattr(exchange, "code", "") == "storage_full":
        return [STORAGE_REFUSAL]
    return exchange.expected


def count_stages(
    exchanges: list,
    rows: list[tuple[str, str]],
    windows: list[tuple[float, float]],
    order: list[str],
) -> list[StageCount]:
    """Count per stage: 5xx in and outside the windows, and events lost or duplicated.

    rows are (client_request_id, "event_type outcome[ (method)]") of the audit table.
    A request whose answer promised nothing (another 5xx, no answer) is not counted:
    whatever it left is its own business, not a broken promise.
    """
    recorded: dict[str, Counter] = {}
    for request_id, label in rows:
        recorded.setdefault(request_id, Counter())[label] += 1
    stages = {name: StageCount(name) for name in order}
    for exchange in exchanges:
        count = stages.setdefault(exchange.stage, StageCount(exchange.stage))
        count.requests += 1
        if exchange.status is None:
            count.no_answer += 1
            continue
        if exchange.status == 507 and getattr(exchange, "code", "") == "storage_full":
            count.storage_full += 1
        elif exchange.status >= 500:
            if inside(exchange.started, windows) or inside(exchange.ended, windows):
                count.answered_5xx_inside += 1
            else:
                count.answered_5xx_outside += 1
        wanted = expected_events(exchange)
        if wanted is None:
            continue
        got = recorded.get(exchange.request_id, Counter())
        for label, times in Counter(wanted).items():
            count.lost += max(0, times - got[label])
            count.duplicated += max(0, got[label] - times)
    return [stages[name] for name in stages]


def judge(verdict: Verdict) -> list[str]:
    """Return the promises the run broke (empty: all kept)."""
    broken = list(verdict.broken)
    for stage in verdict.stages:
        for what, value in (
            ("5xx outside a restart window", stage.answered_5xx_outside),
            ("audit events lost", stage.lost),
            ("audit events duplicated", stage.duplicated),
        ):
            if value:
                broken.append(f"{stage.stage}: {value} {what}")
        if stage.verify_exit not in (0, None):
            broken.append(f"{stage.stage}: verify_audit_chain exited {stage.verify_exit}")
    if verdict.tasks_completed != verdict.tasks_submitted:
        broken.append(
            f"tasks: {verdict.tasks_completed} of {verdict.tasks_submitted} completed "
            f"({verdict.tasks_stuck} stuck, {verdict.tasks_failed} failed)"
        )
    return broken


def markdown(verdict: Verdict) -> str:
    lines = [
        "| stage | requests | 5xx outside / inside restart windows | 507 storage full "
        "| no answer | events lost / duplicated | verify exit | note |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for s in verdict.stages:
        verify = "-" if s.verify_exit is None else str(s.verify_exit)
        lines.append(
            f"| {s.stage} | {s.requests} | {s.answered_5xx_outside} / {s.answered_5xx_inside} "
            f"| {s.storage_full} | {s.no_answer} | {s.lost} / {s.duplicated} | {verify} "
            f"| {s.note} |"
        )
    takeover = "-" if verdict.takeover_seconds is None else f"{verdict.takeover_seconds:.1f} s"
    lines += [
        "",
        "| count | value |",
        "|---|---|",
        f"| tasks submitted / completed | {verdict.tasks_submitted} / {verdict.tasks_completed} |",
        f"| tasks stuck / failed | {verdict.tasks_stuck} / {verdict.tasks_failed} |",
        f"| tasks reclaimed after their worker host died | {verdict.tasks_reclaimed} |",
        f"| sealer takeover after the sealing host was cut | {takeover} |",
    ]
    return "\n".join(lines)
