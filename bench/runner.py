"""Run every figure against one database, in one process: python -m bench.runner.

Started by bench/bench.py with DATABASE_URL and VAR_DIR pointing at a throwaway,
migrated database; seeds it, runs the figures and writes their rows as JSON.
"""

import argparse
import json
import os
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

FIGURES = (
    "6",
    "3",
    "4",
    "4b",
    "5",
    "2",
    "request-overhead",
    "1",
    "1p",
    "7",
    "7b",
    "8",
    "9",
    "10",
    "11",
    "12",
    "corpus",
)


def guarded(ctx, figure: str, call: Callable[[], None]) -> None:
    """Run one figure; a crash becomes a MISS row naming the error, not a dead bench."""
    from bench.timing import Row

    try:
        call()
    except Exception as error:
        traceback.print_exc()
        ctx.add(
            Row(
                figure=figure,
                backend=ctx.backend,
                case="(failed to run)",
                ok=False,
                note=f"{type(error).__name__}: {str(error)[:300]}",
            )
        )


def run_easyaudit(ctx, env: dict[str, str], workdir: Path) -> None:
    from bench.databases import ROOT
    from bench.figures.easyaudit import EASY_AUDIT, ensure_venv
    from bench.timing import Row

    python, problem = ensure_venv()
    if problem:
        ctx.add(Row(figure="4b", backend=ctx.backend, case="(skipped)", note=problem))
        return
    ea_env = dict(env, DJANGO_SETTINGS_MODULE="bench.easyaudit_settings")
    migrate = subprocess.run(
        [python, str(ROOT / "manage.py"), "migrate", "easyaudit", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=ea_env,
        capture_output=True,
        text=True,
    )
    if migrate.returncode != 0:
        ctx.add(
            Row(
                figure="4b",
                backend=ctx.backend,
                case="(skipped)",
                note=f"{EASY_AUDIT} migrate failed: {migrate.stderr.strip()[-300:]}",
            )
        )
        return
    info = workdir / "easyaudit-in.json"
    out = workdir / "easyaudit-out.json"
    info.write_text(json.dumps(ctx.as_dict()))
    subprocess.run(
        [python, "-m", "bench.figures.easyaudit", "--info", str(info), "--out", str(out)],
        cwd=ROOT,
        env=ea_env,
        check=True,
    )
    # Already printed by the subprocess; only collected here.
    ctx.results += [Row(**row) for row in json.loads(out.read_text())]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", required=True)
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", default=",".join(FIGURES))
    parser.add_argument("--last", action="store_true", help="the last backend of this run")
    parser.add_argument("--reuse", action="store_true", help="the database is already seeded")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    only = set(args.only.split(","))
    env = dict(os.environ)

    import django

    django.setup()
    from django.conf import settings

    # The bench URLconf adds the figure 3b view; nothing else differs from the service.
    settings.ROOT_URLCONF = "bench.urls"

    from bench.context import Context
    from bench.figures import (
        admin,
        api,
        corpus,
        export,
        ocr,
        ocr_parallel,
        ocr_scans,
        pdf_size,
        request_overhead,
        search,
        write_processes,
        writes,
    )
    from bench.seed import SeedInfo, seed
    from bench.timing import Row

    seed_file = args.out.parent / f"{args.backend}-seed.json"
    if args.reuse:
        info = SeedInfo(**json.loads(seed_file.read_text()))
        print(f"[{args.backend}] reusing {info.rows:,} seeded audit events", flush=True)
    else:
        print(f"[{args.backend}] seeding {args.rows:,} audit events ...", flush=True)
        info = seed(rows=args.rows)
        seed_file.write_text(json.dumps(info.as_dict()))
        print(f"[{args.backend}] seeded in {info.seconds:.0f} s", flush=True)
    ctx = Context(backend=args.backend, rows=info.rows, quick=args.quick, seed=info)
    earlier = json.loads(args.out.read_text()) if args.out.exists() else None
    partial = only != set(FIGURES)
    if earlier and (args.reuse or (partial and earlier["rows"] == info.rows)):
        # Re-measuring some figures: keep the earlier rows of the others in the report.
        rerun = only | ({"3b"} if "3" in only else set())
        ctx.results = [Row(**row) for row in earlier["results"] if row["figure"] not in rerun]
        ctx.explain = {} if "3" in only else earlier.get("explain", {})
        ctx.loads = {k: v for k, v in earlier.get("loads", {}).items() if k not in rerun}
        ctx.notes = earlier.get("notes", [])
    workdir = args.out.parent
    steps: dict[str, Callable[[], None]] = {
        "6": lambda: export.verify(ctx, env),
        "3": lambda: api.run(ctx),
        "4": lambda: admin.run(ctx),
        "4b": lambda: run_easyaudit(ctx, env, workdir),
        "5": lambda: export.run(ctx, env),
        "2": lambda: writes.run_overhead(ctx),
        # Beside django-auditlog and django-easy-audit, each in a long-lived process.
        "request-overhead": lambda: request_overhead.run(ctx, env),
        "1": lambda: writes.run_writes(ctx),
        # Separate processes (as gunicorn workers are), locked design beside the sealer.
        "1p": lambda: write_processes.run(ctx),
        # OCR time is the engine's; the quick run measures the pipeline on PostgreSQL only.
        "7": lambda: None if args.quick and args.backend == "sqlite" else ocr.run_pipeline(ctx),
        # No database in this path: measured once, on the last backend.
        "7b": lambda: ocr.run_text_layer(ctx) if args.last else None,
        "8": lambda: ocr.run_workers(ctx, env) if args.backend == "postgresql" else None,
        # Engines on images, no database: measured once, on the last backend.
        "9": lambda: ocr_scans.run(ctx) if args.last else None,
        "10": lambda: search.run(ctx),
        # One task's pages in 1 and 2 processes: the engine's time, measured once.
        "11": lambda: ocr_parallel.run(ctx) if args.last else None,
        # Output / input bytes of the searchable PDF by kind of scan: measured once.
        "12": lambda: pdf_size.run(ctx) if args.last else None,
        # Real scans (fetched at bench time) beside OCRmyPDF on each: measured once.
        "corpus": lambda: corpus.run(ctx) if args.last else None,
    }
    for figure in FIGURES:
        if figure in only:
            print(f"[{args.backend}] figure {figure} ...", flush=True)
            load_before = os.getloadavg()[0]
            started = time.monotonic()
            guarded(ctx, figure, steps[figure])
            ctx.loads[figure] = (load_before, os.getloadavg()[0], time.monotonic() - started)
            args.out.write_text(json.dumps(ctx.as_dict(), indent=1))
    args.out.write_text(json.dumps(ctx.as_dict(), indent=1))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
