"""Print the offline verifier's rate: events per second over a synthetic export.

No database and no Django: the export (in the service's NDJSON layout), its tree and
its checkpoints are made with the verifier's own modules as the server would make them,
then ``python -m audit.transparency.verifier`` (what ``ocr-audit-verify`` runs) checks
them as a command, start-up included, with one process and with --jobs (default: the
CPUs usable). CPU time is the command's and its workers' (user + system).

    python -m bench.offline_verify --events 1000000
"""

import argparse
import gzip
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from audit.transparency.verifier import exports
from audit.transparency.verifier.merkle import Frontier, leaf_hash
from audit.transparency.verifier.records import GENESIS_HASH, canonical_timestamp
from audit.transparency.verifier.signed_note import Checkpoint, Signer, generate_key, sign_note

ORIGIN = "bench.example/ocr-audit"
METADATA: tuple[dict[str, Any], ...] = (
    {},
    {"method": "password"},
    {"engine": "tesseract", "languages": ["eng", "deu"], "dpi": 300, "ratio": 0.1},
    {"filename": "東京 scan.pdf", "pages": 3, "size": 1234567},
)


def write_trail(directory: Path, events: int, every: int) -> tuple[Path, str]:
    """Write events.ndjson and checkpoints every `every` leaves; return the export and key."""
    skey, vkey = generate_key(ORIGIN)
    signer = Signer.from_key(skey)
    checkpoints = directory / "checkpoints"
    checkpoints.mkdir()
    export = directory / "events.ndjson"
    frontier = Frontier()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    prev_hash = GENESIS_HASH
    with export.open("w", encoding="utf-8") as handle:
        for index in range(events):
            event = {
                "id": index + 1,
                "sequence": index + 1,
                "timestamp": canonical_timestamp(start + timedelta(milliseconds=37 * index)),
                "event_type": ("task_create", "auth_login", "file_upload")[index % 3],
                "category": ("task", "auth", "file")[index % 3],
                "outcome": "success" if index % 7 else "failure",
                "user_id": index % 50 or None,
                "username": f"user{index % 50}",
                "ip_address": None if index % 5 == 0 else f"192.0.2.{index % 250}",
                "user_agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0",
                "request_id": f"req-{index:08d}",
                "resource_type": "task",
                "resource_id": str(index),
                "message": f"Task {index} created",
                "metadata": METADATA[index % len(METADATA)],
                "prev_hash": prev_hash,
                "leaf_index": index,
            }
            handle.write(json.dumps(event, ensure_ascii=False) + "\n")
            data = exports.leaf_bytes(event)
            prev_hash = hashlib.sha256(data).hexdigest()  # a plain link: no chain key here
            frontier.append(leaf_hash(data))
            if frontier.size % every == 0 or frontier.size == events:
                text = Checkpoint(ORIGIN, frontier.size, frontier.root()).text()
                name = f"tree-{frontier.size:020d}.checkpoint"
                (checkpoints / name).write_text(sign_note(text, signers=[signer]), "utf-8")
    return export, vkey


def run_command(arguments: list[str]) -> tuple[float, float]:
    """Return the wall and CPU seconds (the command and its workers) of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "audit.transparency.verifier", *arguments],
        check=True,
        capture_output=True,
    )
    wall = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--every", type=int, default=10_000, help="leaves between checkpoints")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--jobs",
        default=f"1,{len(os.sched_getaffinity(0))}",
        help="--jobs values to run, comma-separated (default: 1 and the CPUs usable)",
    )
    parser.add_argument("--gzip", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        directory = Path(name)
        export, vkey = write_trail(directory, args.events, args.every)
        paths = [export]
        if args.gzip:
            paths.append(directory / "events.ndjson.gz")
            paths[1].write_bytes(gzip.compress(export.read_bytes(), compresslevel=6))
        for path in paths:
            for jobs in sorted({int(value) for value in args.jobs.split(",")}):
                arguments = ["--key", vkey, "--checkpoints", str(directory / "checkpoints")]
                arguments += ["--export", str(path), "--jobs", str(jobs)]
                runs = sorted(run_command(arguments) for _ in range(args.runs))
                wall, cpu = runs[len(runs) // 2]
                print(
                    f"{path.name} ({args.events:,} events, {path.stat().st_size / 1e6:.0f} MB, "
                    f"{args.events // args.every} checkpoints), --jobs {jobs}: "
                    f"{args.events / wall:,.0f} events/s, {wall:.2f} s wall, {cpu:.2f} s CPU "
                    f"({args.events / cpu:,.0f} events per CPU second; median of {args.runs}, "
                    f"start-up included; load average {os.getloadavg()[0]:.1f})"
                )


if __name__ == "__main__":
    main()
