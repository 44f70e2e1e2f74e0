"""The database restarts under the running processes: every one of them outlives it.

A restart as the processes meet it, on the real PostgreSQL: every open connection of
the site's database is ended (pg_terminate_backend) and, for a few seconds, new ones
are refused (ALLOW_CONNECTIONS false). Connections are kept open (DB_CONN_MAX_AGE=60),
as in production, and each process names itself in pg_stat_activity
(DB_APPLICATION_NAME), so the test knows it ended that process's connection.
"""

import http.cookiejar
import os
import re
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from audit.tests.fixtures import PASSWORD
from tasks.tests.live_site import LiveSite, throwaway_database
from tasks.tests.scan_corpus import upright_page
from tasks.tests.test_worker_kill import CREATE_TASK, manage_output, observe, progress, wait_for

pytestmark = [
    pytest.mark.django_db,
    # Ends PostgreSQL backends; SQLite has no server to restart.
    pytest.mark.postgresql,
]

DOWN_SECONDS = 3
PAGES = 4
KEPT_OPEN = {"DB_CONN_MAX_AGE": "60"}
RECOVERED = "reached the database again"


@contextmanager
def database_restart(database_url: str, *, down_seconds: float) -> Iterator[list[str]]:
    """End every connection to the database and refuse new ones for `down_seconds`.

    Yield the application names of the ended backends; the database accepts
    connections again when the block ends (and at the latest after it).
    """
    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    allow = sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS {}").format
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(allow(sql.Identifier(name), sql.SQL("false")))
        try:
            # Which backends first, then end exactly those: in one statement PostgreSQL
            # may call pg_terminate_backend before it filters on the database name.
            backends = admin.execute(
                "SELECT pid, application_name FROM pg_stat_activity WHERE datname = %s",
                [name],
            ).fetchall()
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM unnest(%s::integer[]) AS pid",
                [[pid for pid, _ in backends]],
            )
            time.sleep(down_seconds)
            yield [application for _, application in backends]
        finally:
            admin.execute(allow(sql.Identifier(name), sql.SQL("true")))


def connected(database_url: str, application_name: str) -> bool:
    """Return whether a process of that name holds a connection to the database."""
    with psycopg.connect(database_url) as probe:
        row = probe.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
            [application_name],
        ).fetchone()
    return bool(row and row[0])


def scalar(database_url: str, query: str, params: list | None = None):
    with psycopg.connect(database_url) as reader:
        row = reader.execute(query, params or []).fetchone()
    return row[0] if row else None


@contextmanager
def live_site(tmp_path: Path, **extra_env: str) -> Iterator[LiveSite]:
    """Yield a prepared (not started) LiveSite on its own PostgreSQL database."""
    with (
        tempfile.TemporaryDirectory(prefix="ocr-dbrestart-") as var_dir,
        throwaway_database(os.environ.get("DATABASE_URL")) as database_url,
    ):
        site = LiveSite(
            var_dir=Path(var_dir),
            log_dir=tmp_path,
            database_url=database_url,
            extra_env={**KEPT_OPEN, **extra_env},
        )
        site.prepare(users=[("alice", False)], password=PASSWORD)
        try:
            yield site
        finally:
            site.close()


def scanned_pdf(path: Path) -> Path:
    images = [upright_page(seed=700 + n, font="Liberation Serif", dpi=300)[0] for n in range(PAGES)]
    first, *rest = (image.convert("RGB") for image in images)
    first.save(path, format="PDF", save_all=True, append_images=rest, resolution=300)
    return path


def test_the_worker_outlives_restarts_idle_and_mid_task_and_the_task_completes(tmp_path):
    with live_site(tmp_path, OCR_STALE_AFTER_SECONDS="4") as site:
        assert site.database_url is not None
        log = tmp_path / "worker.log"
        # As the site's worker, so the site stops it at the end.
        site.worker = worker = site.manage(
            *("ocr_worker", "--no-reload", "--interval", "0.2", "--no-startup-delay"),
            log="worker.log",
            env={"DB_APPLICATION_NAME": "ocr-worker"},
        )
        wait_for(lambda: connected(site.database_url, "ocr-worker"), what="the worker", log=log)

        # Idle: the worker holds an open connection between polls.
        with database_restart(site.database_url, down_seconds=DOWN_SECONDS) as ended:
            assert "ocr-worker" in ended
        wait_for(lambda: log.read_text().count(RECOVERED) == 1, what="recovery", log=log)
        assert worker.poll() is None

        # Busy: the restart lands while the worker reads a document.
        env = site.env()
        document = scanned_pdf(tmp_path / "scans.pdf")
        output = manage_output(site, env, CREATE_TASK.format(path=str(document)))
        task_id = output.split("TASK ", 1)[1].strip()
        where = {"var_dir": site.var_dir, "database_url": site.database_url, "task_id": task_id}
        wait_for(lambda: progress(**where)[1] >= 1, what="the first page", log=log, poll=0.1)
        with database_restart(site.database_url, down_seconds=DOWN_SECONDS) as ended:
            assert "ocr-worker" in ended
        final = wait_for(
            lambda: (state := observe(site, env, task_id))["status"] == "completed" and state,
            what="the task to complete",
            log=log,
        )
        assert worker.poll() is None, "the worker exited"

    # Read again from the start by the same worker, after its heartbeat reclaimed it.
    assert final["pages"] == list(range(PAGES))
    assert final["reclaims"] == 1
    assert final["running_jobs"] == 0
    text = log.read_text()
    # Idle, the worker always meets the refusal; mid-task it may meet the database back
    # already, and then only its job row is failed (the task itself is reclaimed).
    assert text.count("Worker lost the database") >= 1
    assert "OCR failed" not in text


RECORD_EVENT = """
from audit.services import record_event
event = record_event(event_type="task_create", resource_type="task", resource_id="after-restart")
print("EVENT", event.pk)
"""


def test_the_sealer_outlives_a_restart_and_seals_what_comes_after(tmp_path):
    with live_site(tmp_path, AUDIT_SEALING="background") as site:
        assert site.database_url is not None
        log = tmp_path / "sealer.log"
        # As the site's worker, so the site stops it at the end.
        site.worker = sealer = site.manage(
            "audit_sealer", log="sealer.log", env={"DB_APPLICATION_NAME": "ocr-sealer"}
        )
        wait_for(lambda: connected(site.database_url, "ocr-sealer"), what="the sealer", log=log)
        with database_restart(site.database_url, down_seconds=DOWN_SECONDS) as ended:
            assert "ocr-sealer" in ended
        wait_for(lambda: RECOVERED in log.read_text(), what="recovery", log=log)
        assert sealer.poll() is None

        output = manage_output(site, site.env(), RECORD_EVENT)
        event_id = int(output.split("EVENT ", 1)[1])
        sequence = wait_for(
            lambda: scalar(
                site.database_url,
                "SELECT sequence FROM audit_auditevent WHERE id = %s",
                [event_id],
            ),
            what="the event to be sealed",
            log=log,
        )
        assert sealer.poll() is None, "the sealer exited"

    assert sequence >= 1
    text = log.read_text()
    # One line when the database went away, one when it came back: no traceback a round.
    assert text.count("Audit sealer lost the database") == 1
    assert "Traceback" not in text


def login(url: str) -> int:
    """Sign in as alice through the login form; return the status of the page it leads to."""
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )
    try:
        with opener.open(f"{url}/accounts/login/", timeout=30) as reply:
            page = reply.read().decode()
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        assert token is not None
        form = {"username": "alice", "password": PASSWORD, "csrfmiddlewaretoken": token[1]}
        # Followed to the task list, which reads the session and the tasks back.
        with opener.open(
            f"{url}/accounts/login/", data=urlencode(form).encode(), timeout=30
        ) as reply:
            assert reply.url.rstrip("/") == url
            return reply.status
    except urllib.error.HTTPError as error:
        return error.code


def healthz(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=30) as reply:  # noqa: S310
            return reply.status, reply.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


LOGINS = 8
WEB_WORKERS = 2  # as LiveSite starts gunicorn


def logins(url: str) -> list[int]:
    """Sign in LOGINS times, a few at once, so that every gunicorn worker serves some."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(lambda _: login(url), range(LOGINS)))


def test_after_a_restart_the_web_serves_every_request_and_audits_the_logins(tmp_path):
    with live_site(tmp_path, DB_APPLICATION_NAME="ocr-web") as site:
        assert site.database_url is not None
        site.start()
        site.stop_worker()  # only gunicorn's connections are named ocr-web now
        # Every gunicorn worker signs someone in and keeps its connection open.
        assert logins(site.url) == [200] * LOGINS
        audited = "SELECT count(*) FROM audit_auditevent WHERE event_type = 'auth_login'"
        before = scalar(site.database_url, audited + " AND outcome = 'success'")

        with database_restart(site.database_url, down_seconds=DOWN_SECONDS) as ended:
            status, body = healthz(site.url)
        after = logins(site.url)
        recovered = healthz(site.url)

        assert ended.count("ocr-web") == WEB_WORKERS
        assert after == [200] * LOGINS
        assert scalar(site.database_url, audited + " AND outcome = 'success'") == before + LOGINS
        assert scalar(site.database_url, audited + " AND outcome <> 'success'") == 0
    # While the database was down the load balancer was told, naming the check.
    assert status == 503
    assert b'"database": "failed"' in body
    assert recovered[0] == 200
