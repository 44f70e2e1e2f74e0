#!/usr/bin/env python
"""Load the real server and check that the audit trail lost and duplicated nothing.

Starts gunicorn (several workers) on 127.0.0.1 against a fresh database: SQLite in a
temporary VAR_DIR, or a throwaway PostgreSQL database created for the run and dropped
after it. Concurrent clients, each a user of its own, log in through the session form
and the JWT API, fail to log in, rotate refresh tokens (and replay an old one, which
must be refused), upload small PNGs, upload a file that is not an image, delete their
own tasks and log out.

Every request carries its own X-Request-ID, which the server keeps beside its own id
(metadata.client_request_id), so each audit row can be matched with the request that
caused it: an event the HTTP outcome promised but the table lacks is
*lost*, one recorded twice is *duplicated*, one no request asked for is *unexpected*.
Then `manage.py verify_audit_chain` checks the hash chain, every column of every row
is scanned for the users' passwords, the issued tokens, session keys and anything
shaped like a JWT, and the SIEM stream (gunicorn's stdout) is compared with the table.

    .venv/bin/python bench/load.py                         # SQLite, 16 clients, 60 s
    .venv/bin/python bench/load.py --database both --quick  # CI: about a minute in all
    .venv/bin/python bench/load.py --database postgres --clients 32 --seconds 120

Exits 1 when an event is lost, duplicated or unexpected, a response is a 5xx or says
"database is locked", a secret is found in the trail, or the chain does not verify.
"""

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path

# Run as a script (python bench/load.py), only bench/ is on sys.path: add the repository
# root so the bench.loadtest package imports the same way as when imported.
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.loadtest.report import print_result, print_summary  # noqa: E402
from bench.loadtest.results import RunResult, result_document  # noqa: E402
from bench.loadtest.run import run_one  # noqa: E402
from bench.loadtest.server import (  # noqa: E402
    DEFAULT_POSTGRES_URL,
    LoadError,
    collect_static,
    prepared_target,
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgres", "both"], default="sqlite")
    parser.add_argument("--clients", type=int, help="concurrent clients (16; --quick 4)")
    parser.add_argument(
        "--users",
        type=int,
        help="distinct users; clients share them, as one person's devices do (clients / 2)",
    )
    parser.add_argument("--seconds", type=float, help="how long the clients run (60)")
    parser.add_argument("--iterations", type=int, help="actions per client instead of --seconds")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (4)")
    parser.add_argument("--threads", type=int, default=1, help="threads per worker; >1: gthread")
    parser.add_argument(
        "--quick", action="store_true", help="small run for CI: 4 clients x 10 actions"
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the clients' action mix")
    parser.add_argument(
        "--no-axes", action="store_true", help="run with django-axes off (default: on, no limit)"
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("LOAD_POSTGRES_URL", DEFAULT_POSTGRES_URL),
        help="server where the throwaway database is created (LOAD_POSTGRES_URL)",
    )
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    parser.add_argument("--keep", action="store_true", help="keep the temp dirs and databases")
    options = parser.parse_args(argv)
    if options.clients is None:
        options.clients = 4 if options.quick else 16
    if options.iterations is None and options.seconds is None and options.quick:
        # A fixed amount of work: CI time then depends on the machine, not the verdict.
        options.iterations = 10
    if options.users is None:
        options.users = max(1, options.clients // 2)
    if options.seconds is None:
        options.seconds = 60.0
    if min(options.clients, options.users, options.workers, options.threads) < 1:
        parser.error("--clients, --users, --workers and --threads must be at least 1")
    options.users = min(options.users, options.clients)
    return options


def interrupt(signum, frame) -> None:
    """Turn SIGTERM or Ctrl-C into KeyboardInterrupt, once, so every cleanup block runs.

    Further signals are ignored: a second one must not cut the cleanup short and leave
    the server, a temporary directory or the throwaway database behind.
    """
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    print("\nInterrupted: stopping the server and removing what this run created ...")
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGINT, interrupt)
    databases = ["sqlite", "postgres"] if options.database == "both" else [options.database]
    results: list[RunResult] = []
    shared = Path(tempfile.mkdtemp(prefix="ocr-load-static-"))
    static_job = collect_static(shared / "static")
    try:
        for database in databases:
            print(f"\n-- {database}: preparing a fresh database", flush=True)
            with prepared_target(
                database,
                static_root=shared / "static",
                postgres_url=options.postgres_url,
                axes=not options.no_axes,
                keep=options.keep,
            ) as target:
                result = run_one(target, options, static_job)
            print_result(result)
            results.append(result)
    except LoadError as error:
        print(f"\nLoad run failed: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nInterrupted; cleaned up.", file=sys.stderr)
        return 130
    finally:
        if static_job.poll() is None:
            static_job.kill()
            static_job.wait()
        shutil.rmtree(shared, ignore_errors=True)
    if len(results) > 1:
        print_summary(results)
    if options.json:
        options.json.write_text(json.dumps([result_document(r) for r in results], indent=2))
    return 0 if all(result.ok for result in results) else 1


if __name__ == "__main__":
    sys.exit(main())
