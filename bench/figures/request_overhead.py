"""Figure request-overhead: what auditing adds to a request, beside django-auditlog and easy-audit.

Each configuration (bench/peers/: the project, and the project with its own trail off
and one peer installed instead) is served by a long-lived process (bench/peers/worker.py)
with one test client per kind of request, so building the middleware and WhiteNoise's
index of the static files is never timed. Every process times the same requests with
its recorder on and off, pair by pair; the processes take turns, kind by kind, for a
few rounds. The ratio of a configuration is the median of its per-pair on/off ratios.
The peers run in a throwaway venv installed from bench/requirements-peers.txt.

The rows go into the bench's table and into docs/benchmarks-request-overhead.md.
"""

import json
import statistics
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from bench.context import Context
from bench.databases import BENCH_VAR, ROOT
from bench.peers.venv import ensure_venv
from bench.timing import Row, Series

FIGURE = "request-overhead"
DOC = ROOT / "docs" / "benchmarks-request-overhead.md"
KINDS = {
    "login": "session login (POST /accounts/login/)",
    "page": "authenticated GET / (task list page)",
    "refresh": "JWT refresh (POST /api/v2/auth/refresh)",
    "audit_page": "audit page (GET /api/v2/admin/audit-logs)",
}
# Configuration -> (label, settings module, table prefix of its audit rows, apps to migrate).
CONFIGURATIONS = {
    "project": ("the project", "bench.peers.project", "audit_", ""),
    "auditlog": ("django-auditlog 3.4.1", "bench.peers.auditlog", "auditlog_", "auditlog"),
    "easyaudit": ("django-easy-audit 1.3.9", "bench.peers.easyaudit", "easyaudit_", "easyaudit"),
}
PEERS = ("auditlog", "easyaudit")
ROUNDS = 3


@dataclass
class Worker:
    """One configuration's long-lived process and what it measured."""

    name: str
    process: subprocess.Popen
    on: dict[str, Series] = field(default_factory=dict)
    off: dict[str, Series] = field(default_factory=dict)
    inserts: dict[str, list[str]] = field(default_factory=dict)

    def ask(self, command: dict[str, Any]) -> dict[str, Any]:
        stdin: IO[str] = self.process.stdin  # type: ignore[assignment]  # opened as a pipe
        stdin.write(json.dumps(command) + "\n")
        stdin.flush()
        return self.answer()

    def answer(self) -> dict[str, Any]:
        stdout: IO[str] = self.process.stdout  # type: ignore[assignment]  # opened as a pipe
        line = stdout.readline()
        if not line:
            raise RuntimeError(f"{self.name} worker ended (exit {self.process.wait()})")
        return json.loads(line)

    def ratios(self, kind: str) -> list[float]:
        """Return the on/off ratio of every pair of requests of this kind."""
        on, off = self.on[kind].samples, self.off[kind].samples
        return [a / b for a, b in zip(on, off, strict=True)]

    def ratio(self, kind: str) -> float:
        return statistics.median(self.ratios(kind))

    def spread(self, kind: str) -> tuple[float, float]:
        """Return the quartiles of the per-pair ratios: how far noise moves one pair."""
        ratios = self.ratios(kind)
        if len(ratios) < 2:
            return ratios[0], ratios[0]
        first, _, third = statistics.quantiles(ratios, n=4)
        return first, third


def start_worker(name: str, python: str, env: dict[str, str]) -> Worker:
    """Migrate the configuration's peer app, start its process and wait until it is warm."""
    settings_module, apps = CONFIGURATIONS[name][1], CONFIGURATIONS[name][3]
    worker_env = dict(env, DJANGO_SETTINGS_MODULE=settings_module, PYTHONPATH=str(ROOT))
    if apps:
        subprocess.run(
            [python, str(ROOT / "manage.py"), "migrate", apps, "--noinput", "-v", "0"],
            cwd=ROOT,
            env=worker_env,
            check=True,
        )
    process = subprocess.Popen(
        [python, "-m", "bench.peers.worker"],
        cwd=ROOT,
        env=worker_env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    worker = Worker(name=name, process=process)
    worker.answer()  # {"ready": name}
    return worker


def measure(workers: list[Worker], *, pairs: int) -> None:
    """Take turns, kind by kind, for ROUNDS rounds; then count each kind's INSERTs once."""
    for worker in workers:
        for kind in KINDS:
            worker.on[kind], worker.off[kind] = Series(), Series()
    for round_number in range(ROUNDS):
        for kind in KINDS:
            shift = round_number % len(workers)
            for worker in workers[shift:] + workers[:shift]:
                answer = worker.ask({"kind": kind, "pairs": pairs})
                worker.on[kind].samples += answer["on"]
                worker.off[kind].samples += answer["off"]
    for worker in workers:
        for kind in KINDS:
            worker.inserts[kind] = worker.ask({"kind": kind, "count": True})["inserts"]


def audit_inserts(worker: Worker, kind: str) -> int:
    prefix = CONFIGURATIONS[worker.name][2]
    return sum(table.startswith(prefix) for table in worker.inserts[kind])


def rows(ctx: Context, workers: list[Worker]) -> list[Row]:
    """Return one row per configuration and kind; the project's carries the target."""
    result = []
    by_name = {worker.name: worker for worker in workers}
    for kind, kind_label in KINDS.items():
        peer_ratios = {name: by_name[name].ratio(kind) for name in PEERS if name in by_name}
        for worker in workers:
            ratio = worker.ratio(kind)
            inserts = audit_inserts(worker, kind)
            target, ok = "", None
            if worker.name == "project" and peer_ratios:
                target = "<= each peer's on/off, <= 1 audit INSERT"
                ok = ratio <= min(peer_ratios.values()) and inserts <= 1
            elif worker.name == "project":
                target = "(no peer measured)"
            result.append(
                Row(
                    figure=FIGURE,
                    backend=ctx.backend,
                    case=f"{kind_label}, {CONFIGURATIONS[worker.name][0]}",
                    p50=worker.on[kind].p50_ms,
                    p95=worker.on[kind].p95_ms,
                    value=ratio,
                    value_label="on/off",
                    target=target,
                    ok=ok,
                    samples=len(worker.on[kind].samples),
                    note=f"off: p50 {worker.off[kind].p50_ms:.1f} ms; audit INSERTs {inserts} "
                    f"of {len(worker.inserts[kind])}",
                    extra={
                        "configuration": worker.name,
                        "kind": kind,
                        "audit_inserts": inserts,
                        "quartiles": worker.spread(kind),
                    },
                )
            )
    return result


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def run(ctx: Context, env: dict[str, str]) -> None:
    """Measure every configuration on ctx's database and rewrite the figure's page."""
    from audit.sealing.batches import seal_pending

    python, problem = ensure_venv()
    names = ["project", *PEERS] if python else ["project"]
    if problem:
        ctx.notes.append(f"{FIGURE}: peers not measured: {problem}")
    load_before = uptime()
    workers: list[Worker] = []
    try:
        for name in names:
            workers.append(start_worker(name, python if name in PEERS else sys.executable, env))
        measure(workers, pairs=8 if ctx.quick else 40)
    finally:
        for worker in workers:
            if worker.process.stdin:
                worker.process.stdin.close()
            worker.process.wait(timeout=60)
    measured = rows(ctx, workers)
    for row in measured:
        ctx.add(row)
    # The project's events are linked now, before the later figures' events.
    seal_pending()
    record = {
        "backend": ctx.backend,
        "rows": ctx.rows,
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "uptime_before": load_before,
        "uptime_after": uptime(),
        "pairs": len(workers[0].on["login"].samples),
        "results": [row.as_dict() for row in measured],
    }
    (BENCH_VAR / f"{FIGURE}-{ctx.backend}.json").write_text(json.dumps(record, indent=1))
    DOC.write_text(page([json.loads(path.read_text()) for path in sorted_records()]))


def sorted_records() -> list[Path]:
    paths = [BENCH_VAR / f"{FIGURE}-{backend}.json" for backend in ("sqlite", "postgresql")]
    return [path for path in paths if path.exists()]


def page(records: list[dict[str, Any]]) -> str:
    """Return docs/benchmarks-request-overhead.md for the backends measured."""
    labels = [CONFIGURATIONS[name][0] for name in CONFIGURATIONS]
    parts = [
        "# What auditing adds to a request, beside the libraries users pick instead",
        "",
        f"Generated by `make bench` or `bench/bench.py --only {FIGURE}` "
        f"(bench/figures/{FIGURE.replace('-', '_')}.py); do not edit by hand.",
        "",
        "Each cell is the median of the per-request ratios time with the recorder on / time "
        "with it off, in the same long-lived process, the two sides alternating request by "
        "request; in brackets the quartiles of those per-pair ratios (how far the machine's "
        "noise moves one pair), then the p50 with the recorder on and off, and the audit "
        'rows one request INSERTs. For a peer, "on" is the project with its own trail off and the '
        "peer installed and recording (its defaults; django-auditlog with every model "
        'registered), "off" the same process with the peer\'s recorder switched off too; '
        "the peer's middleware runs on both sides, as the project's request-id middleware "
        "does. The same fast password hasher (MD5) everywhere. One test client per kind "
        "and process for its whole life: the middleware chain and WhiteNoise's static file "
        "index are built once, before any timing. The configurations take turns kind by "
        f"kind, {ROUNDS} rounds. Target: the project's ratio at most each peer's on every "
        "kind, and at most one audit INSERT per request, committed with the action. What "
        "the profiler found, and why the audit page misses on PostgreSQL: "
        "docs/benchmark-notes.md, *What auditing adds to a request, beside the peers*.",
        "",
    ]
    for record in records:
        parts += [
            f"## {'SQLite' if record['backend'] == 'sqlite' else 'PostgreSQL'} "
            f"({record['rows']:,} audit rows, {record['pairs']} pairs per cell, {record['date']})",
            "",
            f"Load before: `{record['uptime_before']}`  ",
            f"Load after: `{record['uptime_after']}`",
            "",
            f"| request | {' | '.join(labels)} | project within target |",
            f"|---|{'---:|' * len(labels)}---|",
        ]
        cells: dict[tuple[str, str], dict[str, Any]] = {
            (row["extra"]["kind"], row["extra"]["configuration"]): row for row in record["results"]
        }
        for kind, kind_label in KINDS.items():
            line = [kind_label]
            for name in CONFIGURATIONS:
                row = cells.get((kind, name))
                if row is None:
                    line.append("not measured")
                    continue
                off_p50 = row["note"].split(";")[0].removeprefix("off: p50 ")
                low, high = row["extra"].get("quartiles", (row["value"], row["value"]))
                line.append(
                    f"**{row['value']:.2f}** [{low:.2f}-{high:.2f}] ({row['p50']:.1f} / "
                    f"{off_p50}, {row['extra']['audit_inserts']} INSERT)"
                )
            verdict = cells.get((kind, "project"), {}).get("ok")
            line.append({True: "yes", False: "**no**", None: "-"}[verdict])
            parts.append(f"| {' | '.join(line)} |")
        parts.append("")
    return "\n".join(parts)
