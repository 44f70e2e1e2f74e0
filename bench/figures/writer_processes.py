"""Figure writer-processes: recording throughput of separate processes, as gunicorn workers are.

Each writer is its own process with its own database connection (threads share one
interpreter lock and would measure Python, not the database). Also runnable alone
against a migrated database:

    DATABASE_URL=postgres://... python -m bench.figures.writer_processes --processes 1,8

With --unrelated-write (PostgreSQL) a session holds a transaction that wrote a temp
table open throughout, as a psql session or a slow job would: the sealer waits only for
transactions holding the event table, so the window must not grow.
"""

import argparse
import multiprocessing
import os
import statistics
import time

WRITE_TARGET = 1500
FIGURE = "writer-processes"
# A drain that has not ended by then is reported, not waited for (a stuck sealer).
DRAIN_LIMIT_SECONDS = 120.0


def _stream_to_file() -> None:
    """Send this child's SIEM lines to a file in VAR_DIR, as a server's stdout would go.

    Inherited, they would go up the bench runner's pipe and be copied line by line by
    the parent process, which competes with the writers for the same two cores.
    """
    path = os.path.join(os.environ.get("VAR_DIR", "."), "bench-writers-stream.log")
    sink = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(sink, 1)
    os.close(sink)


def _writer(events: int, user_id: int | None, start, results) -> None:
    """Record `events` events in this process; put (latencies, error) on `results`."""
    import django

    _stream_to_file()
    django.setup()
    from django.contrib.auth import get_user_model

    from audit import services
    from audit.recording.client import ClientContext

    user = get_user_model().objects.filter(pk=user_id).first() if user_id else None
    latencies: list[float] = []
    error = ""
    try:
        start.wait()
        for index in range(events):
            began = time.perf_counter()
            services.record_event(
                event_type="auth_token_refresh",
                user=user,
                client=ClientContext(
                    ip_address="203.0.113.9",
                    user_agent="bench-writer",
                    request_id=f"bench-{os.getpid()}-{index}",
                ),
                metadata={"bench": True, "index": index},
            )
            latencies.append(time.perf_counter() - began)
    except Exception as failure:  # reported in the table, not raised from a child
        error = f"{type(failure).__name__}: {failure}"
    results.put((latencies, error))


def _sealer(stop) -> None:
    """Run the background sealer (as `manage.py audit_sealer` does) until `stop` is set."""
    import django

    _stream_to_file()
    django.setup()
    from django.conf import settings

    from audit.sealing.loop import run_sealer

    run_sealer(interval=settings.AUDIT_SEAL_INTERVAL_SECONDS, stop=stop.is_set)


def hold_unrelated_write():
    """Return a session left in a transaction that wrote a temp table (PostgreSQL)."""
    import psycopg
    from django.db import connection

    session = psycopg.connect(**connection.get_connection_params())
    session.execute("CREATE TEMP TABLE bench_unrelated (n int)")
    session.execute("INSERT INTO bench_unrelated VALUES (1)")
    return session


def measure(
    *, processes: int, events: int, user_id: int | None, unrelated_write: bool = False
) -> dict:
    """Run `processes` writers of `events` events each; return rate, latencies, errors.

    With AUDIT_SEALING=background a sealer process runs beside the writers, and the
    oldest unsealed event's age is sampled every 0.1 s: the unsealed window under load.
    With `unrelated_write`, a transaction on another table stays open from before the
    writers start until the backlog is drained.
    """
    from django.conf import settings
    from django.db import connections

    from audit.sealing.backlog import unsealed_backlog

    unrelated = hold_unrelated_write() if unrelated_write else None

    background = settings.AUDIT_SEALING == "background"
    # spawn, not fork: each writer starts clean, with no connection inherited.
    context = multiprocessing.get_context("spawn")
    start, stop_sealer = context.Event(), context.Event()
    results = context.Queue()
    workers = [
        context.Process(target=_writer, args=(events, user_id, start, results))
        for _ in range(processes)
    ]
    sealer = context.Process(target=_sealer, args=(stop_sealer,)) if background else None
    for worker in [*workers, *([sealer] if sealer else [])]:
        worker.start()
    # Let every child finish django.setup() before the clock starts.
    time.sleep(2.0 + 0.5 * processes)
    began = time.perf_counter()
    start.set()
    window = 0.0
    collected: list[tuple[list[float], str]] = []
    while len(collected) < len(workers):
        try:
            collected.append(results.get(timeout=0.1))
        except Exception:  # queue.Empty: sample the backlog while the writers run
            if background:
                window = max(window, unsealed_backlog().oldest_seconds or 0.0)
    seconds = time.perf_counter() - began
    for worker in workers:
        worker.join()
    drained = None
    errors_left = ""
    if sealer:
        drain_began = time.perf_counter()
        while unsealed_backlog().count:
            window = max(window, unsealed_backlog().oldest_seconds or 0.0)
            if time.perf_counter() - drain_began > DRAIN_LIMIT_SECONDS:
                errors_left = f"not drained after {DRAIN_LIMIT_SECONDS:g} s"
                break
            time.sleep(0.05)
        drained = time.perf_counter() - drain_began
        stop_sealer.set()
        sealer.join()
    if unrelated is not None:
        unrelated.close()
    connections.close_all()
    latencies = [value for batch, _ in collected for value in batch]
    errors = [error for _, error in collected if error]
    if errors_left:
        errors.append(errors_left)
    return {
        "processes": processes,
        "recorded": len(latencies),
        "seconds": seconds,
        "rate": len(latencies) / seconds if seconds else 0.0,
        "p50_ms": statistics.median(latencies) * 1000 if latencies else None,
        "p95_ms": sorted(latencies)[int(0.95 * (len(latencies) - 1))] * 1000 if latencies else None,
        "errors": errors,
        "window_s": window if background else None,
        "drain_s": drained,
    }


def run(ctx) -> None:
    """Time 1 and 8 writer processes, locked design then sealer, and verify the chain."""
    from django.conf import settings

    from audit.verification.verify import verify_chain
    from bench.timing import Row

    for mode, label in (("inline", "locked"), ("background", "sealer")):
        # The locked design is the slow baseline: fewer events measure it as well.
        total = 1000 if ctx.quick else (4000 if mode == "inline" else 16000)
        # Children read the mode from the environment, this process from settings.
        os.environ["AUDIT_SEALING"] = settings.AUDIT_SEALING = mode
        for count in (1, 8):
            figure = measure(processes=count, events=total // count, user_id=ctx.seed.user_ids[0])
            window = (
                f"; unsealed window max {figure['window_s']:.2f} s"
                if figure["window_s"] is not None
                else ""
            )
            ctx.add(
                Row(
                    figure=FIGURE,
                    backend=ctx.backend,
                    case=f"{count} writer process{'es' if count > 1 else ''} [{label}]",
                    p50=figure["p50_ms"],
                    p95=figure["p95_ms"],
                    value=figure["rate"],
                    value_label="events/s",
                    target=f">= {WRITE_TARGET:,}/s, window <= "
                    f"{settings.AUDIT_SEAL_WINDOW_SECONDS:g} s"
                    if (count == 8 and mode == "background")
                    else "",
                    ok=(
                        figure["rate"] >= WRITE_TARGET
                        and not figure["errors"]
                        and figure["window_s"] <= settings.AUDIT_SEAL_WINDOW_SECONDS
                    )
                    if (count == 8 and mode == "background" and ctx.backend == "postgresql")
                    else None,
                    samples=figure["recorded"],
                    note=f"{figure['recorded']:,} events in {figure['seconds']:.2f} s{window}"
                    + (
                        f"; {len(figure['errors'])} errors: {figure['errors'][0][:120]}"
                        if figure["errors"]
                        else ""
                    ),
                )
            )
    os.environ["AUDIT_SEALING"] = settings.AUDIT_SEALING = "background"
    if ctx.backend == "postgresql":
        # SQLite has one writer: an open write transaction there stops every writer.
        total = 1000 if ctx.quick else 16000
        figure = measure(
            processes=8, events=total // 8, user_id=ctx.seed.user_ids[0], unrelated_write=True
        )
        ctx.add(
            Row(
                figure=FIGURE,
                backend=ctx.backend,
                case="8 writer processes [sealer], a write transaction on another table "
                "open throughout",
                p50=figure["p50_ms"],
                p95=figure["p95_ms"],
                value=figure["rate"],
                value_label="events/s",
                target=f"window <= {settings.AUDIT_SEAL_WINDOW_SECONDS:g} s",
                ok=not figure["errors"]
                and figure["window_s"] <= settings.AUDIT_SEAL_WINDOW_SECONDS,
                samples=figure["recorded"],
                note=f"{figure['recorded']:,} events in {figure['seconds']:.2f} s; unsealed "
                f"window max {figure['window_s']:.2f} s, drained {figure['drain_s']:.2f} s "
                "after the writers stopped"
                + (f"; errors: {figure['errors'][0][:120]}" if figure["errors"] else ""),
            )
        )
    started = time.perf_counter()
    result = verify_chain()
    ctx.add(
        Row(
            figure=FIGURE,
            backend=ctx.backend,
            case="chain verifies afterwards",
            unit="",
            target="verify_chain ok",
            ok=result.ok,
            note=f"{result.rows_checked:,} events checked in "
            f"{time.perf_counter() - started:.2f} s: {result.reason}",
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--processes", default="1,8")
    parser.add_argument("--events", type=int, default=4000, help="events in all, per run")
    parser.add_argument(
        "--unrelated-write",
        action="store_true",
        help="hold a transaction that wrote a temp table open throughout (PostgreSQL)",
    )
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ocr_project.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connections

    from audit.verification.verify import verify_chain

    user, _ = get_user_model().objects.get_or_create(username="bench-writer")
    connections.close_all()
    held = ", a write transaction on another table open" if args.unrelated_write else ""
    print(f"AUDIT_SEALING={settings.AUDIT_SEALING}{held}", flush=True)
    for count in (int(part) for part in args.processes.split(",")):
        figure = measure(
            processes=count,
            events=max(1, args.events // count),
            user_id=user.pk,
            unrelated_write=args.unrelated_write,
        )
        window = (
            f"; unsealed window max {figure['window_s']:.2f} s, drained "
            f"{figure['drain_s']:.2f} s after the writers stopped"
            if figure["window_s"] is not None
            else ""
        )
        print(
            f"{count} writer processes: {figure['rate']:,.0f} events/s "
            f"({figure['recorded']:,} in {figure['seconds']:.2f} s, "
            f"p50 {figure['p50_ms']:.1f} ms, p95 {figure['p95_ms']:.1f} ms){window}"
            + (f"; errors: {figure['errors'][0][:200]}" if figure["errors"] else ""),
            flush=True,
        )
    result = verify_chain()
    print(f"chain verifies afterwards: {result.ok} ({result.rows_checked:,} rows; {result.reason})")


if __name__ == "__main__":
    main()
