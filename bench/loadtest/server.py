"""The throwaway database, the gunicorn serving it, and manage.py commands run against them."""

import contextlib
import http.client
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
MANAGE = ROOT / "manage.py"
DEFAULT_POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/postgres"
HOST = "127.0.0.1"
REQUEST_TIMEOUT = 120


class LoadError(Exception):
    """The run could not be set up or measured (not a finding about the trail)."""


@dataclass
class Target:
    """One database to load: its kind, working directory and environment."""

    database: str
    workdir: Path
    env: dict[str, str]
    dbname: str = ""


def base_env(workdir: Path, static_root: Path, *, axes: bool) -> dict[str, str]:
    """Return the server's environment: production settings, limits that distort counts off."""
    env = dict(os.environ)
    for name in ("DATABASE_URL", "SECRET_KEY", "AUDIT_SIGNING_KEY", "MEDIA_ROOT"):
        env.pop(name, None)
    env.update(
        {
            "VAR_DIR": str(workdir / "var"),
            "STATIC_ROOT": str(static_root),
            "DEBUG": "0",
            "SECURE_SSL_REDIRECT": "0",
            "SECURE_COOKIES": "0",
            "TRUSTED_PROXY_COUNT": "0",
            # Lockouts and throttling would turn counted logins into refusals.
            "AXES_ENABLED": "1" if axes else "0",
            "AXES_FAILURE_LIMIT": "1000000",
            "AUTH_THROTTLE_RATE": "100000/min",
            "REFRESH_THROTTLE_RATE": "100000/min",
            # The sealer writes the SIEM stream here, each sealed event once (audit/siem).
            "AUDIT_STREAM": f"file:{(workdir / 'audit-stream.log').absolute()}",
            "PYTHONUNBUFFERED": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    return env


def with_database(url: str, name: str) -> str:
    """Return the URL with its database name replaced."""
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(path=f"/{name}"))


def postgres_admin(url: str, statement: str, name: str) -> None:
    """Run CREATE/DROP DATABASE for `name` on the server at `url`."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(url, autocommit=True, connect_timeout=10) as connection:
        connection.execute(sql.SQL(statement).format(sql.Identifier(name)))


@contextlib.contextmanager
def prepared_target(
    database: str, *, static_root: Path, postgres_url: str, axes: bool, keep: bool
) -> Iterator[Target]:
    """Yield a fresh, empty target; remove its files and database afterwards."""
    workdir = Path(tempfile.mkdtemp(prefix=f"ocr-load-{database}-"))
    target = Target(database, workdir, base_env(workdir, static_root, axes=axes))
    try:
        if database == "postgres":
            target.dbname = f"ocr_load_{os.getpid()}_{secrets.token_hex(3)}"
            try:
                postgres_admin(postgres_url, "CREATE DATABASE {}", target.dbname)
            except Exception as error:
                target.dbname = ""
                raise LoadError(
                    f"cannot create a PostgreSQL database at {postgres_url}: {error}"
                ) from error
            target.env["DATABASE_URL"] = with_database(postgres_url, target.dbname)
        yield target
    finally:
        if keep:
            print(f"  kept {workdir}" + (f" and database {target.dbname}" if target.dbname else ""))
        else:
            if target.dbname:
                with contextlib.suppress(Exception):
                    postgres_admin(
                        postgres_url, "DROP DATABASE IF EXISTS {} WITH (FORCE)", target.dbname
                    )
            shutil.rmtree(workdir, ignore_errors=True)


def manage(
    env: dict[str, str], *args: str, extra: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """Run a manage.py command, its output captured; return the result."""
    run_env = {**env, **(extra or {})}
    return subprocess.run(
        [sys.executable, str(MANAGE), *args],
        cwd=ROOT,
        env=run_env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def manage_ok(env: dict[str, str], *args: str, extra: dict[str, str] | None = None) -> str:
    """Run a manage.py command; raise LoadError with its output when it fails."""
    result = manage(env, *args, extra=extra)
    if result.returncode != 0:
        tail = (result.stdout + result.stderr).strip()[-2000:]
        raise LoadError(f"manage.py {args[0]} failed ({result.returncode}):\n{tail}")
    return result.stdout


class Server:
    """gunicorn serving the project, in its own process group so it can be stopped whole."""

    def __init__(self, target: Target, *, workers: int, threads: int) -> None:
        self.target = target
        self.workers = workers
        self.threads = threads
        # What the sealer streamed (AUDIT_STREAM in base_env); gunicorn's stdout is apart.
        self.stream_log = target.workdir / "audit-stream.log"
        self.stdout_log = target.workdir / "gunicorn.stdout"
        self.error_log = target.workdir / "gunicorn.stderr"
        self.access_log = target.workdir / "access.log"
        self.process: subprocess.Popen | None = None
        self.port = 0

    @property
    def description(self) -> str:
        kind = f"gthread x{self.threads}" if self.threads > 1 else "sync"
        return f"gunicorn {self.workers} {kind} workers"

    def start(self) -> None:
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "ocr_project.wsgi",
            "--bind",
            f"{HOST}:0",
            "--workers",
            str(self.workers),
            "--worker-class",
            "gthread" if self.threads > 1 else "sync",
            "--threads",
            str(self.threads),
            "--timeout",
            str(REQUEST_TIMEOUT),
            "--graceful-timeout",
            "30",
            # Another gunicorn on this machine (make run) owns the default control socket.
            "--no-control-socket",
            "--access-logfile",
            str(self.access_log),
        ]
        with open(self.stdout_log, "ab") as out, open(self.error_log, "ab") as err:
            self.process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=self.target.env,
                stdout=out,
                stderr=err,
                start_new_session=True,
            )
        self.port = self.wait_for_port()
        self.wait_until_serving()

    def wait_for_port(self) -> int:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            text = self.error_log.read_text(errors="replace")
            found = re.search(r"Listening at: http://127\.0\.0\.1:(\d+)", text)
            if found:
                return int(found.group(1))
            if self.process is not None and self.process.poll() is not None:
                break
            time.sleep(0.1)
        raise LoadError(f"gunicorn did not start:\n{self.error_log.read_text()[-2000:]}")

    def wait_until_serving(self) -> None:
        """Wait until a worker answers and every worker has booted."""
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            booted = self.error_log.read_text(errors="replace").count("Booting worker")
            try:
                connection = http.client.HTTPConnection(HOST, self.port, timeout=10)
                connection.request("GET", "/accounts/login/")
                status = connection.getresponse().status
                connection.close()
            except OSError:
                status = 0
            if status == 200 and booted >= self.workers:
                return
            if status >= 500:
                raise LoadError(f"the login page answers {status}: {self.stderr_tail()}")
            time.sleep(0.2)
        raise LoadError(f"gunicorn did not serve the login page:\n{self.stderr_tail()}")

    def stderr_tail(self) -> str:
        return self.error_log.read_text(errors="replace")[-2000:]

    def stop(self) -> None:
        """Stop gunicorn gracefully (workers finish and flush the stream), then by force."""
        if self.process is None:
            return
        if self.process.poll() is None:
            # The master alone: it lets each worker finish its request, then exits.
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=40)
        # Whatever is left of the group (a stuck worker, a killed master's orphans).
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)


def collect_static(static_root: Path) -> subprocess.Popen:
    """Start collectstatic for the run (both databases share its output)."""
    env = base_env(static_root.parent, static_root, axes=True)
    env["VAR_DIR"] = str(static_root.parent / "collectstatic-var")
    return subprocess.Popen(
        [sys.executable, str(MANAGE), "collectstatic", "--noinput", "--verbosity", "0"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
