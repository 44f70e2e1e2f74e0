"""Print one database's results, and the summary table of all of them."""

import os

from bench.loadtest.results import RunResult


def print_result(result: RunResult) -> None:
    name = {"sqlite": "SQLite", "postgres": "PostgreSQL"}[result.database]
    lat = result.latency_ms
    print(f"\n== {name}: {result.clients} clients, {result.server} ==")
    loads = " -> ".join(f"{value:.1f}" for value in result.load_average)
    print(f"Machine: {os.cpu_count()} CPUs; 1-min load average {loads} (start -> end)")
    print(
        f"Requests: {result.requests} in {result.duration:.1f} s = "
        f"{result.requests_per_second:.1f} req/s; latency p50 {lat['p50']:.0f} ms, "
        f"p95 {lat['p95']:.0f} ms, p99 {lat['p99']:.0f} ms, max {lat['max']:.0f} ms"
    )
    print("HTTP statuses: " + ", ".join(f"{k}: {v}" for k, v in result.statuses.items()))
    print(f"\n{'action':<22}{'requests':>9}{'p50 ms':>9}{'p95 ms':>9}  statuses")
    for action, data in result.actions.items():
        statuses = ", ".join(f"{k}: {v}" for k, v in data["statuses"].items())
        print(f"{action:<22}{data['count']:>9}{data['p50']:>9.0f}{data['p95']:>9.0f}  {statuses}")
    head = f"\n{'audit event':<32}{'expected':>9}{'recorded':>9}{'lost':>6}{'dup':>6}{'unexp':>7}"
    print(head)
    for label, count in result.events.items():
        print(
            f"{label:<32}{count.expected:>9}{count.recorded:>9}{count.lost:>6}"
            f"{count.duplicated:>6}{count.unexpected:>7}"
        )
    print(
        f"{'total':<32}{result.expected_total:>9}{result.rows:>9}{result.lost_total:>6}"
        f"{result.duplicated_total:>6}{result.unexpected_total:>7}"
    )
    if result.rows_of_undefined_requests:
        print(
            f"({result.rows_of_undefined_requests} rows belong to requests with no defined outcome)"
        )
    stream = result.stream
    print(
        f"\nSIEM stream: {stream['lines']} lines for {result.rows} rows; missing "
        f"{stream['missing']}, duplicated {stream['duplicated']}, not in table "
        f"{stream['not_in_table']}, hash differs {stream['hash_differs']}"
    )
    scanned = result.secrets_scanned
    print(
        f"Secrets in audit rows: {len(result.secrets_found)} (scanned {scanned['cells']} cells "
        f"of {scanned['rows']} rows for {scanned['passwords']} passwords, "
        f"{scanned['tokens']} tokens/session keys and JWT-shaped text)"
    )
    print(f"Tasks left: {result.tasks_in_db} in the table, {result.tasks_expected} expected")
    print(
        f"Errors: 5xx {result.errors_5xx}, no response {result.no_response}, "
        f'"database is locked" {result.locked_responses} responses / '
        f"{result.locked_log_lines} log lines, server tracebacks {result.server_tracebacks}"
    )
    for line in result.server_errors:
        print(f"  server: {line}")
    for line in result.error_samples[:5]:
        print(f"  5xx: {line}")
    for line in result.anomalies[:10]:
        print(f"  anomaly: {line}")
    if len(result.anomalies) > 10:
        print(f"  ... and {len(result.anomalies) - 10} more anomalies")
    print(f"Chain: {'OK' if result.chain_ok else 'FAILED'} - {result.chain_output}")
    for line in result.secrets_found[:10]:
        print(f"  secret: {line}")
    for line in result.warnings:
        print(f"Warning: {line}")
    verdict = "PASS" if result.ok else "FAIL: " + "; ".join(result.failures)
    print(f"Verdict ({name}): {verdict}", flush=True)


def print_summary(results: list[RunResult]) -> None:
    print(
        f"\n{'database':<11}{'requests':>9}{'req/s':>8}{'p95 ms':>8}{'events':>8}"
        f"{'lost':>6}{'dup':>5}{'5xx':>5}{'secrets':>8}  chain  verdict"
    )
    for r in results:
        print(
            f"{r.database:<11}{r.requests:>9}{r.requests_per_second:>8.1f}"
            f"{r.latency_ms['p95']:>8.0f}{r.expected_total:>8}{r.lost_total:>6}"
            f"{r.duplicated_total:>5}{r.errors_5xx:>5}{len(r.secrets_found):>8}  "
            f"{'OK' if r.chain_ok else 'FAIL':<5}  {'PASS' if r.ok else 'FAIL'}"
        )
