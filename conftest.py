"""Fixtures shared by the tests of every app and by the cross-app suites in tests/.

Each is defined once, here. A fixture that one app's tests use alone lives in that app's
tests/conftest.py; helpers that tests import by name live in plain modules
(audit/tests/fixtures.py, tasks/tests/stored.py).
"""

import io
import itertools
import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.http import HttpResponseBase
from django.test import Client

from audit.models import AuditEvent
from audit.tests.fixtures import PASSWORD, request_id
from tasks.tests.stored import FileStore

_numbers = itertools.count(1)


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
def staff_client(staff, client_for) -> Client:
    """Return a test client logged in as the staff superuser."""
    return client_for(staff)


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


@pytest.fixture
def fresh_cache(db):
    """Empty the cache before and after a test (modules ask with usefixtures).

    Throttle counters live in the database cache, whose table outlives transactional tests.
    """
    cache.clear()
    yield
    cache.clear()


# Each test's own file storage, whichever backend FILE_STORAGE_BACKEND names; tests reach
# stored files only through the Storage API (tasks/tests/stored.py).
@pytest.fixture
def media_root(settings, tmp_path) -> Path:
    """Give each test an empty storage and staging directory, so files count exactly."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.OCR_STAGING_DIR = tmp_path / "staging"
    # The upload spool too, so cleanup tests count only what the test left there.
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "spool")
    (tmp_path / "spool").mkdir(exist_ok=True)
    backend = settings.STORAGES["default"]["BACKEND"]
    if backend != "django.core.files.storage.FileSystemStorage":
        # A fresh instance per test: changing STORAGES makes Django build a new one.
        settings.STORAGES = {
            **settings.STORAGES,
            "default": {"BACKEND": backend, "OPTIONS": {"location": str(tmp_path / "media")}},
        }
    return settings.MEDIA_ROOT


@pytest.fixture
def file_store(media_root, tmp_path) -> FileStore:
    return FileStore(staging=tmp_path / "staging")


@pytest.fixture
def stored_files(file_store) -> Callable[[], list[str]]:
    """Return the files currently stored or staged (names relative to the storage)."""
    return file_store.files
