"""A live copy of the service for the browser tests: gunicorn and a real worker, own database.

pytest-django's live_server serves from inside the test transaction, where a worker in
another process cannot see the uploads. So the site runs as the production processes do,
on a throwaway database: a fresh SQLite file under a temporary VAR_DIR, or, when
DATABASE_URL names PostgreSQL, a database created for the tests and dropped after them.
"""

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings

BASE_DIR = Path(settings.BASE_DIR)
START_TIMEOUT = 60

# Runs inside `manage.py shell`: the schema, the cache table and the test users.
PREPARE_SCRIPT = """
from django.contrib.auth import get_user_model
from django.core.management import call_command

call_command("migrate", interactive=False, verbosity=0)
call_command("createcachetable", verbosity=0)
User = get_user_model()
for name, staff in {users!r}:
    if staff:
        User.objects.create_superuser(username=name, password={password!r})
    else:
        User.objects.create_user(username=name, password={password!r})
"""


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def throwaway_database(url: str | None) -> Iterator[str | None]:
    """Yield a DATABASE_URL for an empty database that is dropped afterwards.

    None means SQLite: the file lives in the site's VAR_DIR and goes with it.
    """
    if not url or not url.startswith(("postgres://", "postgresql://")):
        yield None
        return
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    name = f"ocr_browser_{secrets.token_hex(4)}"
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(admin_url, autocommit=True) as connection:
            # FORCE: a gunicorn worker killed mid-request may leave a connection behind.
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@dataclass
class LiveSite:
    """gunicorn plus an ocr_worker, started from this checkout with their own state."""

    var_dir: Path
    log_dir: Path
    database_url: str | None = None
    port: int = field(default_factory=free_port)
    web: subprocess.Popen | None = None
    worker: subprocess.Popen | None = None
    sealer: subprocess.Popen | None = None
    # Settings every process of the site gets on top of the ones below.
    extra_env: dict[str, str] = field(default_factory=dict)
    _logs: list = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        env = {
            **os.environ,
            "VAR_DIR": str(self.var_dir),
            "STATIC_ROOT": str(self.var_dir / "static"),
            "MEDIA_ROOT": str(self.var_dir / "media"),
            "DJANGO_SETTINGS_MODULE": "ocr_project.settings",
            "DEBUG": "0",
            "PYTHONUNBUFFERED": "1",
            # As `make run`: events are linked by the site's own sealer process (start()).
            "AUDIT_SEALING": "background",
            # Every browser here signs in from 127.0.0.1: the per-address password-login
            # throttle (tested in accounts/tests/test_bruteforce.py) would refuse the
            # suite's own sign-ins. The per-username lockout (django-axes) stays on.
            "AUTH_THROTTLE_RATE": "10000/min",
        }
        env.pop("DATABASE_URL", None)
        if self.database_url:
            env["DATABASE_URL"] = self.database_url
        return {**env, **self.extra_env}

    def manage(self, *args: str, log: str, env: dict[str, str] | None = None) -> subprocess.Popen:
        """Start `manage.py <args>` in the background, output to log_dir/<log>.

        `env` adds settings for this process only (say, its DB_APPLICATION_NAME).
        """
        return self._spawn([sys.executable, "manage.py", *args], log=log, env=env)

    def _spawn(
        self, command: list[str], *, log: str, env: dict[str, str] | None = None
    ) -> subprocess.Popen:
        handle = (self.log_dir / log).open("ab")
        self._logs.append(handle)
        # A session of its own, so stopping it also stops the processes it forked.
        return subprocess.Popen(
            command,
            cwd=BASE_DIR,
            env={**self.env(), **(env or {})},
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def prepare(self, *, users: list[tuple[str, bool]], password: str) -> None:
        """Create the schema, the cache table, the users and the static files (in parallel)."""
        self.var_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        script = PREPARE_SCRIPT.format(users=users, password=password)
        steps = [
            self.manage("shell", "--no-imports", "-c", script, log="prepare.log"),
            self.manage("collectstatic", "--noinput", "--verbosity", "0", log="prepare.log"),
        ]
        for step in steps:
            if step.wait(timeout=180) != 0:
                raise RuntimeError(
                    f"preparing the live site failed; the end of prepare.log:\n"
                    f"{self.log_tail('prepare.log')}"
                )

    def log_tail(self, log: str, lines: int = 40) -> str:
        """Return the last lines of one of the site's logs, for a failure message CI shows."""
        try:
            text = (self.log_dir / log).read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def start(self) -> None:
        self.web = self._spawn(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "ocr_project.wsgi",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                "2",
                "--access-logfile",
                "-",
            ],
            log="web.log",
        )
        if self.env()["AUDIT_SEALING"] == "background":
            # A connection name of its own: tests count the web's connections by theirs.
            self.sealer = self.manage(
                "audit_sealer", log="sealer.log", env={"DB_APPLICATION_NAME": "ocr-live-sealer"}
            )
        self.start_worker()
        self.wait_until_serving()

    def start_worker(self, *, max_tasks: int | None = None) -> None:
        """Start the real background worker (polling the queue every 0.2 s) unless one runs.

        With `max_tasks` it exits after that many tasks.
        """
        if self.worker is not None and self.worker.poll() is None:
            return
        args = ["ocr_worker", "--interval", "0.2", "--no-startup-delay", "--no-reload"]
        if max_tasks is not None:
            args += ["--max-tasks", str(max_tasks)]
        self.worker = self.manage(*args, log="worker.log")

    def wait_for_worker_exit(self, *, timeout: float = 120) -> None:
        """Wait for a worker started with `max_tasks` to finish them and exit."""
        if self.worker is not None:
            self.worker.wait(timeout=timeout)
            self.worker = None

    def stop_worker(self) -> None:
        """Stop the worker (it finishes the task in hand); queued tasks wait for the next one."""
        if self.worker is not None:
            stop(self.worker)
            self.worker = None

    def wait_until_serving(self) -> None:
        assert self.web is not None, "start() first"
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.web.poll() is not None:
                raise RuntimeError(f"gunicorn exited early:\n{self.log_tail('web.log')}")
            try:
                with urllib.request.urlopen(f"{self.url}/accounts/login/", timeout=5) as reply:  # noqa: S310
                    if reply.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not answer within {START_TIMEOUT} s")

    def close(self) -> None:
        self.stop_worker()
        if self.sealer is not None:
            stop(self.sealer)
            self.sealer = None
        if self.web is not None:
            stop(self.web)
            self.web = None
        for handle in self._logs:
            handle.close()


def stop(process: subprocess.Popen) -> None:
    """Stop a process started by LiveSite and everything in its session: TERM, then KILL."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


@contextmanager
def served_site(
    *, log_dir: Path, prefix: str, users: list[tuple[str, bool]], password: str
) -> Iterator[LiveSite]:
    """Yield a started LiveSite on a fresh VAR_DIR and database; stop and remove it after."""
    shutil.rmtree(log_dir, ignore_errors=True)
    with (
        tempfile.TemporaryDirectory(prefix=prefix) as var_dir,
        throwaway_database(os.environ.get("DATABASE_URL")) as database_url,
    ):
        site = LiveSite(var_dir=Path(var_dir), log_dir=log_dir, database_url=database_url)
        try:
            site.prepare(users=users, password=password)
            site.start()
            yield site
        finally:
            site.close()
