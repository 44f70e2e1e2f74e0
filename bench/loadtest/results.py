"""What one database's run measured, and its request figures."""

import math
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field

from bench.loadtest.exchanges import Exchange


@dataclass
class EventCount:
    expected: int = 0
    recorded: int = 0
    lost: int = 0
    duplicated: int = 0
    unexpected: int = 0


@dataclass
class RunResult:
    """Everything one database's run measured, and its verdict."""

    database: str
    server: str
    clients: int
    duration: float = 0.0
    requests: int = 0
    requests_per_second: float = 0.0
    latency_ms: dict[str, float] = field(default_factory=dict)
    statuses: dict[str, int] = field(default_factory=dict)
    actions: dict[str, dict] = field(default_factory=dict)
    events: dict[str, EventCount] = field(default_factory=dict)
    rows: int = 0
    rows_unattributed: int = 0
    rows_of_undefined_requests: int = 0
    expected_total: int = 0
    lost_total: int = 0
    duplicated_total: int = 0
    unexpected_total: int = 0
    errors_5xx: int = 0
    no_response: int = 0
    locked_responses: int = 0
    locked_log_lines: int = 0
    server_tracebacks: int = 0
    server_errors: list[str] = field(default_factory=list)
    anomalies: list[str] = field(default_factory=list)
    error_samples: list[str] = field(default_factory=list)
    stream: dict[str, int] = field(default_factory=dict)
    secrets_scanned: dict[str, int] = field(default_factory=dict)
    secrets_found: list[str] = field(default_factory=list)
    tasks_expected: int = 0
    tasks_in_db: int = 0
    chain_ok: bool = False
    chain_output: str = ""
    fixed_work: bool = False
    load_average: list[float] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


def percentile(values: list[float], fraction: float) -> float:
    """Return the nearest-rank percentile of the values (0 for none)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = min(len(ordered), max(1, math.ceil(fraction * len(ordered))))
    return ordered[rank - 1]


def summarise_requests(result: RunResult, exchanges: list[Exchange]) -> None:
    latencies = [exchange.latency * 1000 for exchange in exchanges]
    result.requests = len(exchanges)
    result.requests_per_second = len(exchanges) / result.duration if result.duration else 0.0
    result.latency_ms = {
        "p50": percentile(latencies, 0.50),
        "p95": percentile(latencies, 0.95),
        "p99": percentile(latencies, 0.99),
        "max": max(latencies, default=0.0),
    }
    statuses = Counter(str(exchange.status or "none") for exchange in exchanges)
    result.statuses = dict(sorted(statuses.items()))
    result.errors_5xx = sum(1 for e in exchanges if e.status is not None and e.status >= 500)
    result.no_response = sum(1 for e in exchanges if e.status is None)
    by_action: dict[str, list[Exchange]] = defaultdict(list)
    for exchange in exchanges:
        by_action[exchange.action].append(exchange)
    for action, items in sorted(by_action.items()):
        times = [item.latency * 1000 for item in items]
        result.actions[action] = {
            "count": len(items),
            "statuses": dict(sorted(Counter(str(item.status or "none") for item in items).items())),
            "p50": percentile(times, 0.50),
            "p95": percentile(times, 0.95),
        }


def result_document(result: RunResult) -> dict:
    document = asdict(result)
    document["ok"] = result.ok
    return document
