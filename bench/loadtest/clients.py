"""The simulated users: each a thread doing a random mix of actions against the server."""

import http.client
import json
import random
import re
import secrets
import threading
import time
import traceback
import urllib.parse
from collections.abc import Callable
from http.cookies import SimpleCookie

from bench.loadtest.events import (
    LOGIN_FAILED_JWT,
    LOGIN_FAILED_SESSION,
    LOGIN_JWT,
    LOGIN_SESSION,
    LOGOUT_SESSION,
    REFRESH_FAILED,
    REFRESH_OK,
    TASK_CREATE,
    TASK_DELETE,
    UPLOAD_FAILED,
    UPLOAD_OK,
)
from bench.loadtest.exchanges import Exchange, Expect, Reply, fixed, multipart, small_png
from bench.loadtest.server import HOST, REQUEST_TIMEOUT

# A fresh access token is taken well before ACCESS_TOKEN_LIFETIME (300 s) runs out.
ACCESS_MAX_AGE = 240

# What each client does, and how often. Logins cost a PBKDF2 hash (Django 6.1's 1.5 million
# iterations: by far the costliest request), so they are the minority of the mix.
ACTIONS = {
    "upload": 30,
    "delete": 22,
    "refresh": 24,
    "bad_upload": 6,
    "session_login": 6,
    "failed_login": 6,
    "jwt_login": 6,
}

CSRF_INPUT = re.compile(rb'name="csrfmiddlewaretoken" value="([^"]+)"')
LOCKED = "database is locked"


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

    # Sent with every request (the fault suite names its site: Host).
    fixed_headers: dict[str, str] = {}

    def connect(self) -> http.client.HTTPConnection:
        """Return a new connection to the server (the fault suite's goes through TLS)."""
        return http.client.HTTPConnection(HOST, self.port, timeout=REQUEST_TIMEOUT)

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
        all_headers = {
            "X-Request-ID": request_id,
            "User-Agent": "bench-load/1",
            **self.fixed_headers,
            **(headers or {}),
        }
        if body:
            all_headers["Content-Length"] = str(len(body))
        if cookies and self.cookies:
            all_headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        started = time.perf_counter()
        connection = self.connect()
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
        # The server answers with its own id, never the one sent (kept as the events'
        # metadata.client_request_id, which checks.compare_events matches on).
        if reply.headers.get("X-Request-ID") in (None, "", request_id):
            self.anomalies.append(f"{action}: no server X-Request-ID ({request_id})")
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
        logout_form = urllib.parse.urlencode(
            {"csrfmiddlewaretoken": self.cookies.get("csrftoken", "")}
        )
        self.send(
            "session_logout",
            "POST",
            "/accounts/logout/",
            body=logout_form.encode(),
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
