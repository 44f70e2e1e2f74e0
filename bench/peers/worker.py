"""One configuration of the request-overhead figure, served by a long-lived process.

    DJANGO_SETTINGS_MODULE=bench.peers.auditlog python -m bench.peers.worker

Started by bench/figures/request_overhead.py, one process per configuration, each with
one test client per kind of request for its whole life: the middleware (and WhiteNoise's
index of the static files) is built once, at the first request, never inside a timing.
It reads one JSON command a line on stdin and answers one JSON line on the stdout it
was started with; everything the service logs goes to stderr.

A command {"kind": "login", "pairs": 10} runs ten pairs of the same request, one with
the configuration's recorder on and one with it off (the order alternating), and
answers the seconds of each side. Only the request is timed: switching the recorder
and clearing a client's cookies happen outside. {"kind": ..., "count": true} makes one
untimed request with the recorder on and answers the INSERT statements it ran.
"""

import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext
from typing import Any

# The service's SIEM stream writes JSON lines to stdout: keep that for the answers only.
ANSWERS = os.fdopen(os.dup(1), "w", buffering=1)
os.dup2(2, 1)
sys.stdout = sys.stderr

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402

from accounts.services import issue_tokens  # noqa: E402
from bench.figures.request_on_off import auditing_off, modules_calling_record_event  # noqa: E402
from bench.seed import STAFF_USERNAME  # noqa: E402

USERNAME = "peer-bench"
PASSWORD = "peer-bench-password-not-secret"  # a throwaway bench account
PAGE = "/"
AUDIT_PAGE = "/api/v2/admin/audit-logs?page_size=20"
CONFIGURATION = settings.SETTINGS_MODULE.rsplit(".", 1)[-1]


def bench_user():
    """Return the bench's login account, its password hashed with the fast hasher.

    Hashed once for every worker: a new hash would end the sessions the workers already
    started had signed in (a session is bound to its user's password hash).
    """
    user, _ = get_user_model().objects.get_or_create(
        username=USERNAME, defaults={"email": "peer-bench@bench.invalid"}
    )
    if not user.check_password(PASSWORD):
        user.set_password(PASSWORD)
        user.save()
    return user


def bench_client() -> Client:
    """Return a test client from one address and user agent, as every request here has."""
    return Client(REMOTE_ADDR="198.51.100.30", HTTP_USER_AGENT="bench/1.0")


def expect(response, status: int) -> None:
    assert response.status_code == status, (response.status_code, response.content[:300])


class Requests:
    """The four kinds of request, each on its own long-lived client."""

    def __init__(self) -> None:
        user = bench_user()
        self.login_client = bench_client()
        self.page_client = bench_client()
        self.page_client.force_login(user)
        self.api_client = bench_client()
        self.refresh_token = issue_tokens(user)[0].refresh
        self.staff_client = bench_client()
        self.staff_client.force_login(get_user_model().objects.get(username=STAFF_USERNAME))
        self.kinds: dict[str, tuple[Callable[[], None], Callable[[], None]]] = {
            "login": (self.login_client.cookies.clear, self.login),
            "page": (no_preparation, self.page),
            "refresh": (no_preparation, self.refresh),
            "audit_page": (no_preparation, self.audit_page),
        }

    def login(self) -> None:
        expect(
            self.login_client.post(
                "/accounts/login/", {"username": USERNAME, "password": PASSWORD}
            ),
            302,
        )

    def page(self) -> None:
        expect(self.page_client.get(PAGE), 200)

    def refresh(self) -> None:
        response = self.api_client.post(
            "/api/v2/auth/refresh",
            {"refresh": self.refresh_token},
            content_type="application/json",
        )
        expect(response, 200)
        self.refresh_token = response.json()["refresh"]

    def audit_page(self) -> None:
        expect(self.staff_client.get(AUDIT_PAGE), 200)


def no_preparation() -> None:
    return None


@contextmanager
def easyaudit_off() -> Iterator[None]:
    """Disconnect django-easy-audit's receivers (auth, model and request events) meanwhile."""
    from django.contrib.auth import signals as auth
    from django.core.signals import request_started
    from django.db.models import signals as model
    from easyaudit.signals import auth_signals, model_signals, request_signals

    receivers = [
        (auth.user_logged_in, auth_signals.user_logged_in, "easy_audit_signals_logged_in"),
        (auth.user_logged_out, auth_signals.user_logged_out, "easy_audit_signals_logged_out"),
        (auth.user_login_failed, auth_signals.user_login_failed, "easy_audit_signals_login_failed"),
        (model.post_save, model_signals.post_save, "easy_audit_signals_post_save"),
        (model.pre_save, model_signals.pre_save, "easy_audit_signals_pre_save"),
        (model.m2m_changed, model_signals.m2m_changed, "easy_audit_signals_m2m_changed"),
        (model.post_delete, model_signals.post_delete, "easy_audit_signals_post_delete"),
        (
            request_started,
            request_signals.request_started_handler,
            "easy_audit_signals_request_started",
        ),
    ]
    for signal, _, uid in receivers:
        signal.disconnect(dispatch_uid=uid)
    try:
        yield
    finally:
        for signal, receiver, uid in receivers:
            signal.connect(receiver, dispatch_uid=uid)


def recorder_switches() -> tuple[Callable[[], AbstractContextManager], Callable[[], Any]]:
    """Return (on, off): context managers with this configuration's recorder on and off.

    In a peer's configuration the project's own recorder is off on both sides, so "on"
    is the peer alone and "off" is no auditing at all, as in the project's own.
    """
    callers = modules_calling_record_event()
    if CONFIGURATION == "project":
        return nullcontext, lambda: auditing_off(callers)
    if CONFIGURATION == "auditlog":
        from auditlog.context import disable_auditlog

        peer_off: Callable[[], AbstractContextManager] = disable_auditlog
    elif CONFIGURATION == "easyaudit":
        peer_off = easyaudit_off
    else:
        raise SystemExit(f"no recorder switch for {settings.SETTINGS_MODULE}")

    def both_off() -> ExitStack:
        stack = ExitStack()
        stack.enter_context(auditing_off(callers))
        stack.enter_context(peer_off())
        return stack

    return lambda: auditing_off(callers), both_off


def timed(prepare: Callable[[], None], call: Callable[[], None], switch) -> float:
    prepare()
    with switch():
        started = time.perf_counter()
        call()
        return time.perf_counter() - started


def counted_inserts(prepare: Callable[[], None], call: Callable[[], None], switch) -> list[str]:
    """Return the table of every INSERT one request ran with the recorder on."""
    tables: list[str] = []

    def note(execute, sql, params, many, context):
        if sql.lstrip().upper().startswith("INSERT INTO"):
            tables.append(sql.split()[2].strip('"`'))
        return execute(sql, params, many, context)

    prepare()
    with switch(), connection.execute_wrapper(note):
        call()
    return tables


def main() -> None:
    requests = Requests()
    # Each kind once first: the views (the URLconf) are imported at the first request,
    # and a module that calls the recorder must be loaded to be found.
    for prepare, call in requests.kinds.values():
        timed(prepare, call, nullcontext)
    on, off = recorder_switches()
    for prepare, call in requests.kinds.values():
        timed(prepare, call, on)
        timed(prepare, call, off)
    ANSWERS.write(json.dumps({"ready": CONFIGURATION}) + "\n")
    for line in sys.stdin:
        command = json.loads(line)
        prepare, call = requests.kinds[command["kind"]]
        if command.get("count"):
            answer: dict[str, Any] = {"inserts": counted_inserts(prepare, call, on)}
        else:
            answer = {"on": [], "off": []}
            for index in range(command["pairs"]):
                sides = [("on", on), ("off", off)]
                for side, switch in sides if index % 2 == 0 else reversed(sides):
                    answer[side].append(timed(prepare, call, switch))
        ANSWERS.write(json.dumps(answer) + "\n")


if __name__ == "__main__":
    main()
