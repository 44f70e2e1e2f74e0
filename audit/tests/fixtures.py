"""Fixtures shared by every app's tests (imported from each tests/conftest.py)."""

import io
import itertools
import logging
from collections.abc import Callable

import pytest
from django.contrib.auth import get_user_model
from django.http import HttpResponseBase
from django.test import Client

from audit.models import AuditEvent

PASSWORD = "correct horse battery staple 42"
_numbers = itertools.count(1)

# The columns a test compares when it asserts "a row with these fields".
EVENT_FIELDS = (
    "event_type",
    "category",
    "outcome",
    "user_id",
    "username",
    "ip_address",
    "user_agent",
    "request_id",
    "resource_type",
    "resource_id",
    "message",
    "metadata",
)


def event_fields(event: AuditEvent) -> dict:
    """Return the fields of an event a reader of the trail sees, for one-line comparison."""
    return {name: getattr(event, name) for name in EVENT_FIELDS}


def request_id(response: HttpResponseBase) -> str:
    """Return the request id the server echoed on a response."""
    value = response["X-Request-ID"]
    assert value, "every response carries an X-Request-ID"
    return value


@pytest.fixture(autouse=True)
def sealed_at_once(settings):
    """Link each event in its own transaction (AUDIT_SEALING=inline) unless a test says not.

    Most tests read an event's sequence and links right after recording it; inline
    sealing goes through the same sealer code, only at once. The background sealer has
    its own tests (audit/tests/test_sealer.py), which set "background".
    """
    settings.AUDIT_SEALING = "inline"


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # The default PBKDF2 work factor makes each login ~0.3 s; tests need correctness, not cost.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def plain_static_storage(settings):
    # The manifest storage needs collectstatic; tests render pages without running it.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture
def make_user(db):
    def make(*, username: str | None = None, staff: bool = False, superuser: bool = False):
        name = username or f"user{next(_numbers)}"
        User = get_user_model()
        account = User(
            username=name, is_staff=staff or superuser, is_superuser=superuser, is_active=True
        )
        account.set_password(PASSWORD)
        # Inserted in bulk, as an import would be: no model signals, so no user_create
        # event. Test accounts are scenery; accounts/tests/test_account_events.py creates
        # them through the admin, the commands and a shell, where the events are the point.
        [account] = User.objects.bulk_create([account])
        return account

    return make


@pytest.fixture
def user(make_user):
    return make_user(username="alice")


@pytest.fixture
def staff(make_user):
    return make_user(username="staffer", staff=True, superuser=True)


@pytest.fixture
def browser_headers():
    return {"HTTP_USER_AGENT": "pytest-browser/1.0", "REMOTE_ADDR": "203.0.113.7"}


@pytest.fixture
def browser(browser_headers) -> Client:
    """Return an anonymous test client with a known user agent and address."""
    return Client(**browser_headers)


@pytest.fixture
def client_for(browser_headers):
    """Return a logged-in test client for a user."""

    def make(user) -> Client:
        client = Client(**browser_headers)
        client.force_login(user)
        return client

    return make


@pytest.fixture
def api_login(client):
    """Log in through the JWT API and return the token pair."""

    def login(user, **extra):
        response = client.post(
            "/api/v2/auth/login",
            {"username": user.username, "password": PASSWORD},
            content_type="application/json",
            **extra,
        )
        assert response.status_code == 200, response.content
        return response.json()

    return login


@pytest.fixture
def events_for(db) -> Callable[[HttpResponseBase], list[AuditEvent]]:
    """Return the audit events recorded while serving a response, oldest first."""

    def events(response: HttpResponseBase) -> list[AuditEvent]:
        return list(AuditEvent.objects.filter(request_id=request_id(response)).order_by("sequence"))

    return events


@pytest.fixture
def only_event(events_for) -> Callable[[HttpResponseBase], AuditEvent]:
    """Return the one audit event a response's request recorded (failing on none or more)."""

    def one(response: HttpResponseBase) -> AuditEvent:
        events = events_for(response)
        assert len(events) == 1, [(event.event_type, event.outcome) for event in events]
        return events[0]

    return one


@pytest.fixture
def audit_stream():
    """Capture what the `audit` logger's configured stdout handler writes (the SIEM stream).

    The handler (settings.LOGGING) is kept, formatter and all; only its stream is
    swapped, because it holds the sys.stdout of start-up, which capsys cannot see.
    Return a callable giving the lines written so far.
    """
    handlers = [
        handler
        for handler in logging.getLogger("audit").handlers
        if handler.get_name() == "audit_stdout"
    ]
    assert handlers, "the audit logger writes to stdout (AUDIT_LOG_STDOUT)"
    buffer = io.StringIO()
    previous = [handler.setStream(buffer) for handler in handlers]
    yield lambda: buffer.getvalue().splitlines()
    for handler, stream in zip(handlers, previous, strict=True):
        handler.setStream(stream)
