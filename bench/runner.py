"""Run every figure against one database, in one process: python -m bench.runner.

Started by bench/bench.py with DATABASE_URL and VAR_DIR pointing at a throwaway,
migrated database; seeds it, runs the figures and writes their rows as JSON.
"""

import argparse
import json
import os
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from bench.catalogue import BY_NAME, current_name

# The order they run in; bench/catalogue.py gives the order of the report.
FIGURES = (
    "verify-chain",
    "audit-api-pages",
    "admin-changelist",
    "easyaudit-changelist",
    "export-stream",
    "request-on-off",
    "request-overhead",
    "record-event-link",
    "writer-processes",
    "ocr-overhead",
    "text-layer",
    "ocr-workers",
    "damaged-scans",
    "search",
    "long-scan-parallel",
    "pdf-size",
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
    # "none": seed (or reuse) the database and measure nothing, for a later --reuse run.
    only = set() if args.only == "none" else {current_name(n) for n in args.only.split(",")}
    env = dict(os.environ)

    import django

    django.setup()
    from django.conf import settings

    # The bench URLconf adds the audit-api-counted-pages view; nothing else differs.
    settings.ROOT_URLCONF = "bench.urls"

    from bench.context import Context
    from bench.figures import (
        admin_changelist,
        audit_api_pages,
        corpus,
        damaged_scans,
        easyaudit_changelist,
        export_stream,
        long_scan_parallel,
        ocr_overhead,
        ocr_workers,
        pdf_size,
        record_event_link,
        request_on_off,
        request_overhead,
        search,
        text_layer,
        verify_chain,
        writer_processes,
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
        # Re-measuring some figures: keep the earlier rows of the others in the report
        # (under their names: rows saved before the figures were named carry codes).
        rerun = only | {also for name in only & set(BY_NAME) for also in BY_NAME[name].also}
        kept = [dict(row, figure=current_name(row["figure"])) for row in earlier["results"]]
        ctx.results = [Row(**row) for row in kept if row["figure"] not in rerun]
        ctx.explain = {} if audit_api_pages.FIGURE in only else earlier.get("explain", {})
        loads = {current_name(k): v for k, v in earlier.get("loads", {}).items()}
        ctx.loads = {k: v for k, v in loads.items() if k not in rerun}
        ctx.notes = earlier.get("notes", [])
    workdir = args.out.parent
    steps: dict[str, Callable[[], None]] = {
        "verify-chain": lambda: verify_chain.run(ctx, env),
        "audit-api-pages": lambda: audit_api_pages.run(ctx),
        "admin-changelist": lambda: admin_changelist.run(ctx),
        "easyaudit-changelist": lambda: easyaudit_changelist.run(ctx, env, workdir),
        "export-stream": lambda: export_stream.run(ctx, env),
        "request-on-off": lambda: request_on_off.run(ctx),
        # Beside django-auditlog and django-easy-audit, each in a long-lived process.
        "request-overhead": lambda: request_overhead.run(ctx, env),
        "record-event-link": lambda: record_event_link.run(ctx),
        # Separate processes (as gunicorn workers are), locked design beside the sealer.
        "writer-processes": lambda: writer_processes.run(ctx),
        # OCR time is the engine's; the quick run measures the pipeline on PostgreSQL only.
        "ocr-overhead": lambda: (
            None if args.quick and args.backend == "sqlite" else ocr_overhead.run(ctx)
        ),
        # No database in this path: measured once, on the last backend.
        "text-layer": lambda: text_layer.run(ctx) if args.last else None,
        "ocr-workers": lambda: ocr_workers.run(ctx, env) if args.backend == "postgresql" else None,
        # Engines on images, no database: measured once, on the last backend.
        "damaged-scans": lambda: damaged_scans.run(ctx) if args.last else None,
        "search": lambda: search.run(ctx),
        # One task's pages in 1 and 2 processes: the engine's time, measured once.
        "long-scan-parallel": lambda: long_scan_parallel.run(ctx) if args.last else None,
        # Output / input bytes of the searchable PDF by kind of scan: measured once.
        "pdf-size": lambda: pdf_size.run(ctx) if args.last else None,
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
