#!/usr/bin/env python
"""Load the real server and check that the audit trail lost and duplicated nothing.

Starts gunicorn (several workers) on 127.0.0.1 against a fresh database: SQLite in a
temporary VAR_DIR, or a throwaway PostgreSQL database created for the run and dropped
after it. Concurrent clients, each a user of its own, log in through the session form
and the JWT API, fail to log in, rotate refresh tokens (and replay an old one, which
must be refused), upload small PNGs, upload a file that is not an image, delete their
own tasks and log out.

Every request carries its own X-Request-ID, so each audit row can be matched with the
request that caused it: an event the HTTP outcome promised but the table lacks is
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
import contextlib
import http.client
import io
import json
import math
import os
import random
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MANAGE = ROOT / "manage.py"
VERIFY_COMMAND = ROOT / "audit" / "management" / "commands" / "verify_audit_chain.py"
DEFAULT_POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/postgres"
HOST = "127.0.0.1"
REQUEST_TIMEOUT = 120
# A fresh access token is taken well before ACCESS_TOKEN_LIFETIME (300 s) runs out.
ACCESS_MAX_AGE = 240

# What each client does, and how often. Logins cost a PBKDF2 hash (about 0.5 s of CPU
# at Django 6.1's 1.5 million iterations), so they are the minority of the mix.
ACTIONS = {
    "upload": 30,
    "delete": 22,
    "refresh": 24,
    "bad_upload": 6,
    "session_login": 6,
    "failed_login": 6,
    "jwt_login": 6,
}

# Audit events as "type outcome (method)": login and logout carry their surface.
LOGIN_SESSION = "auth_login success (session)"
LOGIN_JWT = "auth_login success (jwt)"
LOGIN_FAILED_SESSION = "auth_login failure (session)"
LOGIN_FAILED_JWT = "auth_login failure (jwt)"
LOGOUT_SESSION = "auth_logout success (session)"
REFRESH_OK = "auth_token_refresh success"
REFRESH_FAILED = "auth_token_refresh failure"
UPLOAD_OK = "file_upload success"
UPLOAD_FAILED = "file_upload failure"
TASK_CREATE = "task_create success"
TASK_DELETE = "task_delete success"
LABELS = (
    LOGIN_SESSION,
    LOGIN_JWT,
    LOGIN_FAILED_SESSION,
    LOGIN_FAILED_JWT,
    LOGOUT_SESSION,
    REFRESH_OK,
    REFRESH_FAILED,
    UPLOAD_OK,
    UPLOAD_FAILED,
    TASK_CREATE,
    TASK_DELETE,
)
WITH_METHOD = {"auth_login", "auth_logout"}

JWT_SHAPE = re.compile(r"eyJ[A-Za-z0-9_-]{10,}")
SECRET_WORD = re.compile(r"[A-Za-z0-9_-]{16,}")
CSRF_INPUT = re.compile(rb'name="csrfmiddlewaretoken" value="([^"]+)"')
LOCKED = "database is locked"

# Run inside `manage.py shell -c`: write every column of every audit row as text.
DUMP_SNIPPET = """
import json, os
from django.db import connection
from audit.models import AuditEvent
from tasks.models import OcrTask
def as_text(value):
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return str(value)
with connection.cursor() as cursor:
    cursor.execute("SELECT * FROM " + connection.ops.quote_name(AuditEvent._meta.db_table))
    columns = [column[0] for column in cursor.description]
    rows = [[as_text(value) for value in row] for row in cursor.fetchall()]
with open(os.environ["LOAD_DUMP_PATH"], "w") as out:
    json.dump({"columns": columns, "rows": rows, "tasks": OcrTask.objects.count()}, out)
"""

SETUP_SNIPPET = """
import json, os
from django.contrib.auth import get_user_model
from django.core.management import call_command
call_command("createcachetable")
User = get_user_model()
for item in json.loads(os.environ["LOAD_USERS"]):
    User.objects.create_user(username=item["username"], password=item["password"])
"""

# Used only while verify_audit_chain does not exist: recompute every link in order.
FALLBACK_VERIFY_SNIPPET = """
from audit.chain import GENESIS_HASH, HASHED_FIELDS, event_hash
from audit.models import AuditEvent, ChainHead
previous, expected, broken, count = GENESIS_HASH, 1, None, 0
rows = AuditEvent.objects.order_by("sequence").values_list(*HASHED_FIELDS, "hash")
for row in rows.iterator():
    fields = dict(zip(HASHED_FIELDS, row))
    count += 1
    if (fields["sequence"] != expected or fields["prev_hash"] != previous
            or event_hash(fields) != row[-1]):
        broken = fields["sequence"]
        break
    previous, expected = row[-1], expected + 1
head = ChainHead.objects.filter(pk=1).first()
if broken is None and count and (head is None or head.sequence != count or head.hash != previous):
    broken = head.sequence if head else count
verdict = "OK" if broken is None else f"BROKEN at #{broken}"
print(f"Checked {count} events (bench fallback): {verdict}")
raise SystemExit(0 if broken is None else 1)
"""


class LoadError(Exception):
    """The run could not be set up or measured (not a finding about the trail)."""


# --- One client ---------------------------------------------------------------


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes


@dataclass
class Exchange:
    """One request, its outcome and the audit events that outcome promises."""

    action: str
    request_id: str
    status: int | None
    latency: float
    # None: the outcome has no defined meaning (5xx, no answer), so nothing is expected.
    expected: list[str] | None


Expect = Callable[[int, bytes], list[str] | None]


def fixed(outcomes: dict[int, list[str]]) -> Expect:
    """Return an Expect that maps a status to its events, ignoring the body."""
    return lambda status, body: outcomes.get(status)


def multipart(fields: dict[str, str], files: dict[str, tuple[str, bytes, str]]) -> tuple:
    """Return (body, content type) of a multipart/form-data request."""
    boundary = f"----bench{secrets.token_hex(12)}"
    out = io.BytesIO()
    for name, value in fields.items():
        out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode())
        out.write(value.encode() + b"\r\n")
    for name, (filename, content, ctype) in files.items():
        out.write(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{filename}"\r\nContent-Type: {ctype}\r\n\r\n'.encode()
        )
        out.write(content + b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


def small_png(text: str) -> bytes:
    """Return a small greyscale PNG showing the text."""
    from PIL import Image, ImageDraw

    image = Image.new("L", (240, 48), 255)
    ImageDraw.Draw(image).text((8, 16), text, fill=0)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


class LoadClient(threading.Thread):
    """A user doing a random mix of actions, one request at a time, on fresh connections."""

    def __init__(
        self,
        *,
        index: int,
        username: str,
        password: str,
        port: int,
        stop: threading.Event,
        deadline: float | None,
        iterations: int | None,
        seed: int,
    ) -> None:
        super().__init__(name=f"load-client-{index}", daemon=True)
        self.index = index
        self.username = username
        self.password = password
        self.port = port
        self.stop = stop
        self.deadline = deadline
        self.iterations = iterations
        self.rng = random.Random(seed)
        self.sent = 0
        self.exchanges: list[Exchange] = []
        self.anomalies: list[str] = []
        self.locked_responses = 0
        self.error_bodies: list[str] = []
        # Everything that must never appear in the audit trail.
        self.passwords: set[str] = {password}
        self.tokens: set[str] = set()
        self.cookies: dict[str, str] = {}
        self.access: str | None = None
        self.access_at = 0.0
        self.refresh_token: str | None = None
        self.tasks: list[str] = []
        self.crash = ""

    # -- HTTP ------------------------------------------------------------------

    def send(
        self,
        action: str,
        method: str,
        path: str,
        *,
        ok: tuple[int, ...],
        expect: Expect,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        cookies: bool = False,
    ) -> Reply | None:
        """Send one request on a new connection; record its outcome and promised events.

        A new connection per request: a keep-alive connection the server closed could
        make a retry send a login or an upload twice, and blur the count.
        """
        self.sent += 1
        request_id = f"load-{self.index:03d}-{self.sent:06d}-{secrets.token_hex(4)}"
        all_headers = {"X-Request-ID": request_id, "User-Agent": "bench-load/1", **(headers or {})}
        if body:
            all_headers["Content-Length"] = str(len(body))
        if cookies and self.cookies:
            all_headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        started = time.perf_counter()
        connection = http.client.HTTPConnection(HOST, self.port, timeout=REQUEST_TIMEOUT)
        try:
            connection.request(method, path, body=body or None, headers=all_headers)
            response = connection.getresponse()
            reply = Reply(response.status, response.headers, response.read())
        except (OSError, http.client.HTTPException) as error:
            latency = time.perf_counter() - started
            self.exchanges.append(Exchange(action, request_id, None, latency, None))
            self.anomalies.append(f"{action}: no response ({type(error).__name__}: {error})")
            return None
        finally:
            connection.close()
        latency = time.perf_counter() - started
        expected = None if reply.status >= 500 else expect(reply.status, reply.body)
        self.exchanges.append(Exchange(action, request_id, reply.status, latency, expected))
        if LOCKED.encode() in reply.body:
            self.locked_responses += 1
        if reply.status >= 500:
            self.error_bodies.append(f"{action} -> {reply.status}: {reply.body[:300]!r}")
        elif reply.status not in ok:
            self.anomalies.append(
                f"{action}: HTTP {reply.status}, expected {'/'.join(map(str, ok))}: "
                f"{reply.body[:200]!r}"
            )
        if reply.headers.get("X-Request-ID") != request_id:
            self.anomalies.append(f"{action}: X-Request-ID not echoed ({request_id})")
        if cookies:
            self.keep_cookies(reply)
        return reply

    def keep_cookies(self, reply: Reply) -> None:
        for header in reply.headers.get_all("Set-Cookie") or []:
            jar = SimpleCookie()
            jar.load(header)
            for name, morsel in jar.items():
                if morsel["max-age"] == "0" or not morsel.value:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        if "sessionid" in self.cookies:
            self.tokens.add(self.cookies["sessionid"])

    def post_json(self, action: str, path: str, data: dict, *, ok, expect) -> Reply | None:
        body = json.dumps(data).encode()
        headers = {"Content-Type": "application/json"}
        return self.send(action, "POST", path, body=body, headers=headers, ok=ok, expect=expect)

    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access}"}

    # -- Actions ---------------------------------------------------------------

    def jwt_login(self, *, wrong: bool = False) -> None:
        password = self.password
        if wrong:
            password = f"wrong-{secrets.token_urlsafe(12)}"
            self.passwords.add(password)
        # Now and then a username that does not exist: it must be refused the same way.
        username = self.username
        if wrong and self.rng.random() < 0.3:
            username = f"nosuch-{self.index}-{self.rng.randrange(10**6)}"
        reply = self.post_json(
            "jwt_login_failed" if wrong else "jwt_login",
            "/api/v2/auth/login",
            {"username": username, "password": password},
            ok=(401,) if wrong else (200,),
            expect=fixed({200: [LOGIN_JWT], 401: [LOGIN_FAILED_JWT]}),
        )
        if reply is not None and reply.status == 200:
            self.take_pair(reply)

    def take_pair(self, reply: Reply) -> None:
        pair = json.loads(reply.body)
        self.access, self.refresh_token = pair["access"], pair["refresh"]
        self.access_at = time.monotonic()
        self.tokens.update(pair.values())

    def has_access(self) -> bool:
        if self.access is None or time.monotonic() - self.access_at > ACCESS_MAX_AGE:
            self.jwt_login()
        return self.access is not None

    def refresh(self, *, replay: bool | None = None) -> None:
        if self.refresh_token is None:
            self.jwt_login()
            return
        old = self.refresh_token
        expect = fixed({200: [REFRESH_OK], 401: [REFRESH_FAILED]})
        reply = self.post_json(
            "jwt_refresh", "/api/v2/auth/refresh", {"refresh": old}, ok=(200,), expect=expect
        )
        if reply is None:
            return
        if reply.status != 200:
            self.refresh_token = None
            return
        self.take_pair(reply)
        if replay or (replay is None and self.rng.random() < 0.3):
            # Replaying a rotated refresh token must fail, and the refusal is on record.
            self.post_json(
                "jwt_refresh_reuse",
                "/api/v2/auth/refresh",
                {"refresh": old},
                ok=(401,),
                expect=expect,
            )

    def session_login(self, *, wrong: bool = False) -> None:
        self.cookies = {}
        page = self.send(
            "login_page",
            "GET",
            "/accounts/login/",
            ok=(200,),
            expect=fixed({200: []}),
            cookies=True,
        )
        if page is None or page.status != 200:
            return
        found = CSRF_INPUT.search(page.body)
        token = found.group(1).decode() if found else self.cookies.get("csrftoken", "")
        password = self.password
        if wrong:
            password = f"wrong-{secrets.token_urlsafe(12)}"
            self.passwords.add(password)
        form = urllib.parse.urlencode(
            {"csrfmiddlewaretoken": token, "username": self.username, "password": password}
        ).encode()
        reply = self.send(
            "session_login_failed" if wrong else "session_login",
            "POST",
            "/accounts/login/",
            body=form,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            ok=(200,) if wrong else (302,),
            expect=fixed({302: [LOGIN_SESSION], 200: [LOGIN_FAILED_SESSION]}),
            cookies=True,
        )
        if reply is None or reply.status != 302 or self.rng.random() < 0.5:
            return
        # Login rotated the CSRF secret; the cookie now holds the one to send back.
        form = urllib.parse.urlencode({"csrfmiddlewaretoken": self.cookies.get("csrftoken", "")})
        self.send(
            "session_logout",
            "POST",
            "/accounts/logout/",
            body=form.encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            ok=(302,),
            expect=fixed({302: [LOGOUT_SESSION]}),
            cookies=True,
        )

    def failed_login(self, *, surface: str = "") -> None:
        if surface == "session" or (not surface and self.rng.random() < 0.5):
            self.session_login(wrong=True)
        else:
            self.jwt_login(wrong=True)

    def upload(self, *, bad: bool = False) -> None:
        if not self.has_access():
            return
        if bad:
            filename, content = "notes.png", b"This is not an image.\n" * 8
        else:
            filename = f"scan-{self.index}-{self.sent}.png"
            content = small_png(f"load {self.index} {self.sent}")
        body, content_type = multipart({}, {"file": (filename, content, "image/png")})

        def expect(status: int, reply_body: bytes) -> list[str] | None:
            if status == 201:
                return [UPLOAD_OK, TASK_CREATE] * len(json.loads(reply_body))
            return {400: [UPLOAD_FAILED], 401: []}.get(status)

        reply = self.send(
            "upload_rejected" if bad else "upload",
            "POST",
            "/api/v2/tasks",
            body=body,
            headers={**self.bearer(), "Content-Type": content_type},
            ok=(400,) if bad else (201,),
            expect=expect,
        )
        if reply is not None and reply.status == 201:
            self.tasks.extend(item["id"] for item in json.loads(reply.body))
        elif reply is not None and reply.status == 401:
            self.access = None

    def bad_upload(self) -> None:
        self.upload(bad=True)

    def delete(self) -> None:
        if not self.tasks:
            self.upload()
        if not self.tasks or not self.has_access():
            return
        task_id = self.tasks.pop(self.rng.randrange(len(self.tasks)))
        reply = self.send(
            "delete",
            "DELETE",
            f"/api/v2/tasks/{task_id}",
            headers=self.bearer(),
            ok=(204,),
            expect=fixed({204: [TASK_DELETE], 404: [], 401: []}),
        )
        if reply is not None and reply.status == 401:
            self.access = None

    def tour(self) -> list[Callable[[], None]]:
        """Return every kind of action once, so even a short run exercises each event.

        Each client starts at another point of the tour: on a slow machine, where a
        client gets through only a few actions, the clients together still do them all.
        """
        tour = [
            self.upload,
            lambda: self.refresh(replay=True),
            lambda: self.failed_login(surface="jwt"),
            self.session_login,
            self.delete,
            lambda: self.failed_login(surface="session"),
            self.bad_upload,
        ]
        start = self.index % len(tour)
        return tour[start:] + tour[:start]

    def run(self) -> None:
        names, weights = list(ACTIONS), list(ACTIONS.values())
        tour = self.tour()
        done = 0
        try:
            self.jwt_login()
            while not self.stop.is_set():
                if self.deadline is not None and time.monotonic() >= self.deadline:
                    break
                if self.iterations is not None and done >= self.iterations:
                    break
                if done < len(tour):
                    tour[done]()
                else:
                    getattr(self, self.rng.choices(names, weights)[0])()
                done += 1
        except Exception:  # a bug in this client, reported rather than lost in a thread
            self.crash = traceback.format_exc()


# --- The server and its database ---------------------------------------------


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
            "AUDIT_LOG_STDOUT": "1",
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
                raise LoadError(f"cannot create a PostgreSQL database at {postgres_url}: {error}")
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
    """Run a manage.py command quietly (no audit stream on stdout); return the result."""
    run_env = {**env, "AUDIT_LOG_STDOUT": "0", **(extra or {})}
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
        self.stream_log = target.workdir / "gunicorn.stdout"
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
        with open(self.stream_log, "ab") as out, open(self.error_log, "ab") as err:
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


# --- Measuring and judging -------------------------------------------------------


@dataclass
class EventCount:
    expected: int = 0
    recorded: int = 0
    lost: int = 0
    duplicated: int = 0
    unexpected: int = 0


@dataclass
class RunResult:
    """Everything one database's run measured, and its verdict."""

    database: str
    server: str
    clients: int
    duration: float = 0.0
    requests: int = 0
    requests_per_second: float = 0.0
    latency_ms: dict[str, float] = field(default_factory=dict)
    statuses: dict[str, int] = field(default_factory=dict)
    actions: dict[str, dict] = field(default_factory=dict)
    events: dict[str, EventCount] = field(default_factory=dict)
    rows: int = 0
    rows_unattributed: int = 0
    rows_of_undefined_requests: int = 0
    expected_total: int = 0
    lost_total: int = 0
    duplicated_total: int = 0
    unexpected_total: int = 0
    errors_5xx: int = 0
    no_response: int = 0
    locked_responses: int = 0
    locked_log_lines: int = 0
    server_tracebacks: int = 0
    server_errors: list[str] = field(default_factory=list)
    anomalies: list[str] = field(default_factory=list)
    error_samples: list[str] = field(default_factory=list)
    stream: dict[str, int] = field(default_factory=dict)
    secrets_scanned: dict[str, int] = field(default_factory=dict)
    secrets_found: list[str] = field(default_factory=list)
    tasks_expected: int = 0
    tasks_in_db: int = 0
    chain_ok: bool = False
    chain_output: str = ""
    fixed_work: bool = False
    load_average: list[float] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


def percentile(values: list[float], fraction: float) -> float:
    """Return the nearest-rank percentile of the values (0 for none)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = min(len(ordered), max(1, math.ceil(fraction * len(ordered))))
    return ordered[rank - 1]


def row_label(row: dict) -> str:
    label = f"{row['event_type']} {row['outcome']}"
    if row["event_type"] in WITH_METHOD:
        metadata = row["metadata"]
        if isinstance(metadata, str):
            metadata = json.loads(metadata or "{}")
        label += f" ({metadata.get('method', '?')})"
    return label


def compare_events(result: RunResult, exchanges: list[Exchange], rows: list[dict]) -> None:
    """Match rows to requests by request id; count expected, lost, duplicated, unexpected."""
    expected: dict[str, Counter] = {}
    undefined: set[str] = set()
    for exchange in exchanges:
        if exchange.expected is None:
            undefined.add(exchange.request_id)
        else:
            expected[exchange.request_id] = Counter(exchange.expected)
    recorded: dict[str, Counter] = defaultdict(Counter)
    events: dict[str, EventCount] = {label: EventCount() for label in LABELS}
    for row in rows:
        label = row_label(row)
        events.setdefault(label, EventCount()).recorded += 1
        request_id = row["request_id"]
        if request_id in undefined:
            result.rows_of_undefined_requests += 1
        elif request_id in expected:
            recorded[request_id][label] += 1
        else:
            result.rows_unattributed += 1
            events[label].unexpected += 1
    for request_id, wanted in expected.items():
        got = recorded.get(request_id, Counter())
        for label in wanted.keys() | got.keys():
            count = events.setdefault(label, EventCount())
            count.expected += wanted[label]
            if got[label] < wanted[label]:
                count.lost += wanted[label] - got[label]
            elif got[label] > wanted[label]:
                # More rows than promised: the same event twice, or one never promised.
                if wanted[label]:
                    count.duplicated += got[label] - wanted[label]
                else:
                    count.unexpected += got[label]
    result.events = events
    result.expected_total = sum(c.expected for c in events.values())
    result.lost_total = sum(c.lost for c in events.values())
    result.duplicated_total = sum(c.duplicated for c in events.values())
    result.unexpected_total = sum(c.unexpected for c in events.values())


def compare_stream(result: RunResult, stream_log: Path, rows: list[dict]) -> None:
    """Compare the SIEM lines gunicorn printed with the rows: each exactly once."""
    printed: Counter = Counter()
    hashes: dict[int, str] = {}
    for line in stream_log.read_text(errors="replace").splitlines():
        with contextlib.suppress(ValueError):
            document = json.loads(line)
            if isinstance(document, dict) and "sequence" in document and "hash" in document:
                printed[document["sequence"]] += 1
                hashes[document["sequence"]] = document["hash"]
    stored = {row["sequence"]: row["hash"] for row in rows}
    result.stream = {
        "lines": sum(printed.values()),
        "missing": sum(1 for sequence in stored if sequence not in printed),
        "duplicated": sum(count - 1 for count in printed.values() if count > 1),
        "not_in_table": sum(1 for sequence in printed if sequence not in stored),
        "hash_differs": sum(
            1 for sequence, digest in hashes.items() if stored.get(sequence, digest) != digest
        ),
    }


def scan_secrets(
    result: RunResult, columns: list[str], rows: list[list], clients: list[LoadClient]
) -> None:
    """Look for passwords, tokens, session keys and JWT-shaped text in every column."""
    passwords = set().union(*(client.passwords for client in clients))
    tokens = set().union(*(client.tokens for client in clients))
    # A JWT's signature alone is as good as the token to someone forging nothing.
    words = passwords | tokens | {token.rsplit(".", 1)[-1] for token in tokens if "." in token}
    login_passwords = [client.password for client in clients]
    sequence_at = columns.index("sequence")
    cells = 0
    for row in rows:
        for name, value in zip(columns, row, strict=True):
            if value is None:
                continue
            text = str(value)
            cells += 1
            where = f"#{row[sequence_at]} {name}"
            if JWT_SHAPE.search(text):
                result.secrets_found.append(f"{where}: JWT-shaped text")
            if any(password in text for password in login_passwords):
                result.secrets_found.append(f"{where}: a user's password")
            elif any(word in words for word in SECRET_WORD.findall(text)):
                result.secrets_found.append(f"{where}: a password, token or session key")
    result.secrets_scanned = {
        "rows": len(rows),
        "cells": cells,
        "passwords": len(passwords),
        "tokens": len(tokens),
    }


def scan_server_log(result: RunResult, error_log: Path) -> None:
    """Count tracebacks, worker timeouts and "database is locked" in gunicorn's stderr."""
    lines = error_log.read_text(errors="replace").splitlines()
    result.locked_log_lines = sum(1 for line in lines if LOCKED in line.lower())
    result.server_tracebacks = sum(1 for line in lines if line.startswith("Traceback"))
    seen: Counter = Counter()
    for number, line in enumerate(lines):
        if "WORKER TIMEOUT" in line or "[ERROR]" in line or "[CRITICAL]" in line:
            seen[line.split("] ", 3)[-1][:200]] += 1
        if line.startswith("Traceback"):
            # The exception is the first unindented line after the traceback.
            for follower in lines[number + 1 : number + 200]:
                if follower and not follower.startswith((" ", "\t")):
                    seen[follower[:300]] += 1
                    break
    result.server_errors = [f"{count} x {text}" for text, count in seen.most_common(10)]


def verify_chain(result: RunResult, env: dict[str, str]) -> None:
    if VERIFY_COMMAND.exists():
        outcome = manage(env, "verify_audit_chain")
    else:
        outcome = manage(env, "shell", "-c", FALLBACK_VERIFY_SNIPPET)
    result.chain_ok = outcome.returncode == 0
    text = (outcome.stdout + outcome.stderr).strip()
    result.chain_output = " ".join(text.splitlines()[-3:])[-600:]


def summarise_requests(result: RunResult, exchanges: list[Exchange]) -> None:
    latencies = [exchange.latency * 1000 for exchange in exchanges]
    result.requests = len(exchanges)
    result.requests_per_second = len(exchanges) / result.duration if result.duration else 0.0
    result.latency_ms = {
        "p50": percentile(latencies, 0.50),
        "p95": percentile(latencies, 0.95),
        "p99": percentile(latencies, 0.99),
        "max": max(latencies, default=0.0),
    }
    statuses = Counter(str(exchange.status or "none") for exchange in exchanges)
    result.statuses = dict(sorted(statuses.items()))
    result.errors_5xx = sum(1 for e in exchanges if e.status is not None and e.status >= 500)
    result.no_response = sum(1 for e in exchanges if e.status is None)
    by_action: dict[str, list[Exchange]] = defaultdict(list)
    for exchange in exchanges:
        by_action[exchange.action].append(exchange)
    for action, items in sorted(by_action.items()):
        times = [item.latency * 1000 for item in items]
        result.actions[action] = {
            "count": len(items),
            "statuses": dict(sorted(Counter(str(item.status or "none") for item in items).items())),
            "p50": percentile(times, 0.50),
            "p95": percentile(times, 0.95),
        }


def judge(result: RunResult) -> None:
    checks = [
        (result.lost_total, "audit events lost"),
        (result.duplicated_total, "audit events duplicated"),
        (result.unexpected_total, "unexpected audit events"),
        (result.errors_5xx, "5xx responses"),
        (result.no_response, "requests without a response"),
        (result.locked_responses, 'responses saying "database is locked"'),
        (result.locked_log_lines, '"database is locked" lines in the server log'),
        (result.server_tracebacks, "tracebacks in the server log"),
        (len(result.anomalies), "unexpected HTTP outcomes"),
        (len(result.secrets_found), "secrets in audit rows"),
        (result.stream.get("missing", 0), "rows missing from the SIEM stream"),
        (result.stream.get("duplicated", 0), "SIEM lines duplicated"),
        (result.stream.get("not_in_table", 0), "SIEM lines for rows not in the table"),
        (result.stream.get("hash_differs", 0), "SIEM lines whose hash differs from the row"),
        (abs(result.tasks_in_db - result.tasks_expected), "tasks miscounted"),
    ]
    result.failures += [f"{count} {what}" for count, what in checks if count]
    if not result.chain_ok:
        result.failures.append("chain verification failed")
    idle = [label for label in LABELS if not result.events[label].expected]
    if idle:
        result.warnings.append(f"not exercised (no request expected them): {', '.join(idle)}")
        if result.fixed_work:
            # A fixed number of actions always includes every kind: this is a bench bug.
            result.failures.append(f"not exercised: {', '.join(idle)}")


# --- One run --------------------------------------------------------------------


def collect_static(static_root: Path) -> subprocess.Popen:
    """Start collectstatic for the run (both databases share its output)."""
    env = base_env(static_root.parent, static_root, axes=True)
    env["VAR_DIR"] = str(static_root.parent / "collectstatic-var")
    return subprocess.Popen(
        [sys.executable, str(MANAGE), "collectstatic", "--noinput", "--verbosity", "0"],
        cwd=ROOT,
        env={**env, "AUDIT_LOG_STDOUT": "0"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def run_one(target: Target, options: argparse.Namespace, static_job: subprocess.Popen) -> RunResult:
    """Set up the target, load it through gunicorn, stop it and judge what it recorded."""
    started = time.monotonic()
    manage_ok(target.env, "migrate", "--noinput", "--verbosity", "0")
    users = [
        {"username": f"load-user-{index:03d}", "password": secrets.token_urlsafe(18)}
        for index in range(options.users)
    ]
    manage_ok(target.env, "shell", "-c", SETUP_SNIPPET, extra={"LOAD_USERS": json.dumps(users)})
    if static_job.poll() is None or static_job.returncode:
        output, _ = static_job.communicate(timeout=300)
        if static_job.returncode:
            raise LoadError(f"collectstatic failed:\n{output[-2000:]}")
    server = Server(target, workers=options.workers, threads=options.threads)
    result = RunResult(target.database, server.description, options.clients)
    result.fixed_work = options.iterations is not None
    stop = threading.Event()
    clients: list[LoadClient] = []
    try:
        server.start()
        print(
            f"  set up in {time.monotonic() - started:.1f} s; {server.description} on port "
            f"{server.port}; {options.clients} clients as {options.users} user(s) for "
            + (
                f"{options.iterations} actions each"
                if options.iterations
                else f"{options.seconds} s"
            ),
            flush=True,
        )
        load_started = time.monotonic()
        result.load_average.append(os.getloadavg()[0])
        deadline = None if options.iterations else load_started + options.seconds
        clients = [
            LoadClient(
                index=index,
                username=users[index % len(users)]["username"],
                password=users[index % len(users)]["password"],
                port=server.port,
                stop=stop,
                deadline=deadline,
                iterations=options.iterations,
                seed=options.seed * 1000 + index,
            )
            for index in range(options.clients)
        ]
        for client in clients:
            client.start()
        for client in clients:
            while client.is_alive():
                client.join(timeout=0.5)
        result.duration = time.monotonic() - load_started
        result.load_average.append(os.getloadavg()[0])
    finally:
        stop.set()
        server.stop()
    crashes = [client.crash for client in clients if client.crash]
    if crashes:
        raise LoadError(f"a load client crashed:\n{crashes[0]}")

    exchanges = [exchange for client in clients for exchange in client.exchanges]
    summarise_requests(result, exchanges)
    result.anomalies = [anomaly for client in clients for anomaly in client.anomalies]
    result.error_samples = [body for client in clients for body in client.error_bodies]
    result.locked_responses = sum(client.locked_responses for client in clients)

    dump_path = target.workdir / "audit-dump.json"
    manage_ok(target.env, "shell", "-c", DUMP_SNIPPET, extra={"LOAD_DUMP_PATH": str(dump_path)})
    dump = json.loads(dump_path.read_text())
    columns, raw_rows = dump["columns"], dump["rows"]
    rows = [dict(zip(columns, row, strict=True)) for row in raw_rows]
    result.rows = len(rows)
    compare_events(result, exchanges, rows)
    compare_stream(result, server.stream_log, rows)
    scan_secrets(result, columns, raw_rows, clients)
    scan_server_log(result, server.error_log)
    result.tasks_in_db = dump["tasks"]
    created = sum(1 for e in exchanges for label in e.expected or [] if label == TASK_CREATE)
    deleted = sum(1 for e in exchanges for label in e.expected or [] if label == TASK_DELETE)
    result.tasks_expected = created - deleted
    verify_chain(result, target.env)
    judge(result)
    return result


# --- Report ------------------------------------------------------------------------


def print_result(result: RunResult) -> None:
    name = {"sqlite": "SQLite", "postgres": "PostgreSQL"}[result.database]
    lat = result.latency_ms
    print(f"\n== {name}: {result.clients} clients, {result.server} ==")
    loads = " -> ".join(f"{value:.1f}" for value in result.load_average)
    print(f"Machine: {os.cpu_count()} CPUs; 1-min load average {loads} (start -> end)")
    print(
        f"Requests: {result.requests} in {result.duration:.1f} s = "
        f"{result.requests_per_second:.1f} req/s; latency p50 {lat['p50']:.0f} ms, "
        f"p95 {lat['p95']:.0f} ms, p99 {lat['p99']:.0f} ms, max {lat['max']:.0f} ms"
    )
    print("HTTP statuses: " + ", ".join(f"{k}: {v}" for k, v in result.statuses.items()))
    print(f"\n{'action':<22}{'requests':>9}{'p50 ms':>9}{'p95 ms':>9}  statuses")
    for action, data in result.actions.items():
        statuses = ", ".join(f"{k}: {v}" for k, v in data["statuses"].items())
        print(f"{action:<22}{data['count']:>9}{data['p50']:>9.0f}{data['p95']:>9.0f}  {statuses}")
    head = f"\n{'audit event':<32}{'expected':>9}{'recorded':>9}{'lost':>6}{'dup':>6}{'unexp':>7}"
    print(head)
    for label, count in result.events.items():
        print(
            f"{label:<32}{count.expected:>9}{count.recorded:>9}{count.lost:>6}"
            f"{count.duplicated:>6}{count.unexpected:>7}"
        )
    print(
        f"{'total':<32}{result.expected_total:>9}{result.rows:>9}{result.lost_total:>6}"
        f"{result.duplicated_total:>6}{result.unexpected_total:>7}"
    )
    if result.rows_of_undefined_requests:
        print(
            f"({result.rows_of_undefined_requests} rows belong to requests with no defined outcome)"
        )
    stream = result.stream
    print(
        f"\nSIEM stream: {stream['lines']} lines for {result.rows} rows; missing "
        f"{stream['missing']}, duplicated {stream['duplicated']}, not in table "
        f"{stream['not_in_table']}, hash differs {stream['hash_differs']}"
    )
    scanned = result.secrets_scanned
    print(
        f"Secrets in audit rows: {len(result.secrets_found)} (scanned {scanned['cells']} cells "
        f"of {scanned['rows']} rows for {scanned['passwords']} passwords, "
        f"{scanned['tokens']} tokens/session keys and JWT-shaped text)"
    )
    print(f"Tasks left: {result.tasks_in_db} in the table, {result.tasks_expected} expected")
    print(
        f"Errors: 5xx {result.errors_5xx}, no response {result.no_response}, "
        f'"database is locked" {result.locked_responses} responses / '
        f"{result.locked_log_lines} log lines, server tracebacks {result.server_tracebacks}"
    )
    for line in result.server_errors:
        print(f"  server: {line}")
    for line in result.error_samples[:5]:
        print(f"  5xx: {line}")
    for line in result.anomalies[:10]:
        print(f"  anomaly: {line}")
    if len(result.anomalies) > 10:
        print(f"  ... and {len(result.anomalies) - 10} more anomalies")
    print(f"Chain: {'OK' if result.chain_ok else 'FAILED'} - {result.chain_output}")
    for line in result.secrets_found[:10]:
        print(f"  secret: {line}")
    for line in result.warnings:
        print(f"Warning: {line}")
    verdict = "PASS" if result.ok else "FAIL: " + "; ".join(result.failures)
    print(f"Verdict ({name}): {verdict}", flush=True)


def print_summary(results: list[RunResult]) -> None:
    print(
        f"\n{'database':<11}{'requests':>9}{'req/s':>8}{'p95 ms':>8}{'events':>8}"
        f"{'lost':>6}{'dup':>5}{'5xx':>5}{'secrets':>8}  chain  verdict"
    )
    for r in results:
        print(
            f"{r.database:<11}{r.requests:>9}{r.requests_per_second:>8.1f}"
            f"{r.latency_ms['p95']:>8.0f}{r.expected_total:>8}{r.lost_total:>6}"
            f"{r.duplicated_total:>5}{r.errors_5xx:>5}{len(r.secrets_found):>8}  "
            f"{'OK' if r.chain_ok else 'FAIL':<5}  {'PASS' if r.ok else 'FAIL'}"
        )


def result_document(result: RunResult) -> dict:
    document = asdict(result)
    document["ok"] = result.ok
    return document


# --- Command line --------------------------------------------------------------------


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
