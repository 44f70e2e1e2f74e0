"""Run the web server and the OCR worker together, restarting either one that dies.

`make run` uses this so that a worker killed mid-document (out of memory, kill -9) is
started again and says so, while gunicorn keeps serving; the new worker's heartbeat
thread takes the orphaned task back after OCR_STALE_AFTER_SECONDS.

    python -m ocr_project.supervisor --port 8000 --web-workers 2
"""

import argparse
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
# A child that dies sooner than this after starting waits before the next start, doubling
# each time up to MAX_BACKOFF_SECONDS, so a broken setting does not spin the CPU.
QUICK_DEATH_SECONDS = 10
MAX_BACKOFF_SECONDS = 30


@dataclass
class Child:
    """One supervised process: how to start it and how it is doing."""

    name: str
    argv: list[str]
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    backoff: float = 0.0
    restart_at: float = 0.0
    restarts: int = field(default=0)
    # Only the audit sealer keeps standard output: with AUDIT_STREAM=stdout it is the
    # audit stream, and nothing else (a server's banner, a worker's start line) may be on it.
    keeps_stdout: bool = False

    def start(self) -> None:
        stdout = None if self.keeps_stdout else sys.stderr
        self.process = subprocess.Popen(self.argv, cwd=BASE_DIR, stdout=stdout)  # noqa: S603
        self.started_at = time.monotonic()
        say(f"{self.name} started (pid {self.process.pid}).")

    def exit_description(self) -> str:
        code = self.process.returncode if self.process is not None else None
        if code is not None and code < 0:
            return f"killed by {signal.Signals(-code).name}"
        return f"exit code {code}"


def say(message: str) -> None:
    print(f"[supervisor] {message}", file=sys.stderr, flush=True)


def children(*, port: int, web_workers: int) -> list[Child]:
    """Return the web server and the OCR worker, as `make run` starts them."""
    python = sys.executable
    return [
        Child(
            name="web server",
            argv=[
                python,
                "-m",
                "gunicorn",
                "ocr_project.wsgi",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(web_workers),
                "--access-logfile",
                "/dev/stderr",
            ],
        ),
        Child(name="OCR worker", argv=[python, "manage.py", "ocr_worker", "--no-reload"]),
        # Links committed audit events into the keyed chain (AUDIT_SEALING=background).
        Child(name="audit sealer", argv=[python, "manage.py", "audit_sealer"], keeps_stdout=True),
    ]


def supervise(watched: list[Child], *, poll_seconds: float = 0.5) -> int:
    """Keep every child running until SIGINT or SIGTERM, then stop them all; return 0."""
    stopping = False

    def stop(signum, frame) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    for child in watched:
        child.start()
    while not stopping:
        time.sleep(poll_seconds)
        now = time.monotonic()
        for child in watched:
            if child.process is None:
                if now >= child.restart_at and not stopping:
                    child.start()
                continue
            if child.process.poll() is None:
                continue
            lived = now - child.started_at
            child.backoff = (
                min(MAX_BACKOFF_SECONDS, max(1.0, child.backoff * 2))
                if lived < QUICK_DEATH_SECONDS
                else 0.0
            )
            child.restarts += 1
            say(
                f"{child.name} stopped ({child.exit_description()}) after {lived:.0f} s; "
                f"starting a new one" + (f" in {child.backoff:.0f} s." if child.backoff else ".")
            )
            child.process = None
            child.restart_at = now + child.backoff
    say("Stopping.")
    for child in watched:
        if child.process is not None and child.process.poll() is None:
            child.process.terminate()
    for child in watched:
        if child.process is not None:
            try:
                child.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument("--web-workers", type=int, default=2)
    options = parser.parse_args()
    return supervise(children(port=options.port, web_workers=options.web_workers))


if __name__ == "__main__":
    sys.exit(main())
