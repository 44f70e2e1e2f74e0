"""`make bench`: seed throwaway databases and print every figure as one table.

    .venv/bin/python bench/bench.py                 # 1,000,000 rows, SQLite and PostgreSQL
    .venv/bin/python bench/bench.py --quick         # 20,000 rows, few repeats
    .venv/bin/python bench/bench.py --rows 200000 --only search --backends postgresql
    .venv/bin/python bench/bench.py --list          # every figure: its name, what it measures

Each backend gets a fresh database (a temporary SQLite file; PostgreSQL `ocr_bench`,
dropped afterwards), migrated by manage.py in a subprocess, then one runner process
(bench/runner.py) seeds it and runs the figures. The table is printed and written to
docs/benchmarks.md with the machine's cores, memory and versions.
"""

import argparse
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import databases, report  # noqa: E402
from bench.catalogue import CATALOGUE, figure_for  # noqa: E402
from bench.runner import FIGURES  # noqa: E402

QUICK_ROWS = 20_000
FULL_ROWS = 1_000_000


def postgres_version() -> str:
    try:
        import psycopg

        with psycopg.connect(f"{databases.PG_SERVER}/postgres") as conn:
            return conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]  # one row
    except Exception as error:
        return f"unavailable ({type(error).__name__})"


def run_backend(database: databases.BenchDatabase, args, out: Path, *, last: bool) -> dict:
    print(f"== {database.backend}: migrating {database.url}", flush=True)
    databases.migrate(database)
    command = [
        sys.executable,
        "-m",
        "bench.runner",
        "--backend",
        database.backend,
        "--rows",
        str(args.rows),
        "--only",
        args.only,
        "--out",
        str(out),
    ]
    if args.quick:
        command.append("--quick")
    if last:
        command.append("--last")
    if args.reuse:
        command.append("--reuse")
    log = out.with_suffix(".log")
    print(f"== {database.backend}: running figures (audit log lines go to {log})", flush=True)
    with open(log, "w") as sink:
        # The runner's own progress lines are on stderr-free stdout prefixed with "["; the
        # SIEM stream (one JSON line per recorded event) goes to the log file only.
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=database.env(),
            stdout=subprocess.PIPE,
            stderr=sink,
            text=True,
        )
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith(("[", "Traceback")):
                print(line, end="", flush=True)
            else:
                sink.write(line)
        process.wait()
    if not out.exists():
        raise SystemExit(f"{database.backend} runner failed (exit {process.returncode}); see {log}")
    return json.loads(out.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, help=f"audit rows (default {FULL_ROWS:,})")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_ROWS:,} rows, few repeats")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument(
        "--only",
        default=",".join(FIGURES),
        help="figures, e.g. verify-chain,search (--list); none: seed the databases only",
    )
    parser.add_argument("--list", action="store_true", help="name every figure and stop")
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL database")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="measure the databases a --keep run left (migrated again, not reseeded)",
    )
    args = parser.parse_args()
    if args.list:
        for figure in CATALOGUE:
            print(f"{figure.name:22} {figure.measures} ({figure.module})")
        return
    only = []
    for given in [] if args.only == "none" else args.only.split(","):
        name = figure_for(given)
        if name != given:
            print(f"== {given}: figure {name}", flush=True)
        if name not in only:
            only.append(name)
    unknown = set(only) - set(FIGURES)
    if unknown:
        parser.error(f"unknown figures {', '.join(sorted(unknown))}; --list names them")
    args.only = ",".join(only) or "none"
    args.rows = args.rows or (QUICK_ROWS if args.quick else FULL_ROWS)
    started = time.monotonic()
    databases.BENCH_VAR.mkdir(parents=True, exist_ok=True)
    runs = []
    backends = args.backends.split(",")
    for backend in backends:
        if backend == "postgresql":
            problem = databases.postgres_available()
            if problem:
                print(f"== postgresql skipped: {problem}", flush=True)
                continue
            database = databases.postgres_database(reuse=args.reuse)
        elif backend == "sqlite":
            database = databases.sqlite_database(reuse=args.reuse)
        else:
            raise SystemExit(f"unknown backend {backend!r}")
        try:
            out = databases.BENCH_VAR / f"{backend}.json"
            runs.append(run_backend(database, args, out, last=backend == backends[-1]))
        finally:
            if backend == "postgresql" and not (args.keep or args.reuse):
                databases.drop_postgres()
    if args.reuse:
        # A re-measurement of some figures on one backend still reports the others.
        for backend in ("sqlite", "postgresql"):
            earlier = databases.BENCH_VAR / f"{backend}.json"
            if backend not in backends and earlier.exists():
                runs.append(json.loads(earlier.read_text()))
        runs.sort(key=lambda run: run["backend"] != "sqlite")
    command = "make bench" + (f" BENCH_ARGS='{shlex.join(sys.argv[1:])}'" if sys.argv[1:] else "")
    text = report.markdown(facts=report.machine(postgres_version()), runs=runs, command=command)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)
    print()
    print(report.table([row for run in runs for row in run["results"]]))
    print(f"\nWritten to {args.output} in {time.monotonic() - started:.0f} s.")


if __name__ == "__main__":
    main()
