"""Fixtures shared by the tests of every app and by the cross-app suites in tests/.

Each is defined once, here. A fixture that one app's tests use alone lives in that app's
tests/conftest.py; helpers that tests import by name live in plain modules
(audit/tests/fixtures.py, tasks/tests/stored.py).

Audit events are sealed as production seals them, in the background
(sealed_in_background): a fresh event has no sequence, links or place in listings,
exports, the stream or checkpoints until a sealer round links it. The helpers that read
events run that round first; any other test asks for `drain_sealer` and calls it where
the sealer would have run, and a test of the locked design asks for `inline_sealing`.
"""

import itertools
import os
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.http import HttpResponseBase
from django.test import Client

from audit.models import AuditEvent
from audit.tests.fixtures import PASSWORD, drain_sealer, request_id
from tasks.tests.stored import FileStore
from tests.browser_env import missing_requirement

_numbers = itertools.count(1)


# --- What this run selects -----------------------------------------------------------------
# A skip is not a pass: a test that cannot run here is either deselected because it belongs
# to another setup (the other database, a local folder storage), and the closing lines say
# how many, or it stops the run with what to install. `make test` runs the suite on SQLite
# and, with DATABASE_URL set, on PostgreSQL; together they run every test.

_left_out = pytest.StashKey[Counter[str]]()

LOCAL_STORAGE = "django.core.files.storage.FileSystemStorage"


def _leaves_out(item: pytest.Item, *, vendor: str, browser_tests: bool) -> str | None:
    """Return why this run leaves `item` out, or None to run it."""
    if item.get_closest_marker("postgresql") and vendor != "postgresql":
        return "tests for PostgreSQL (DATABASE_URL=postgres://... make test runs them)"
    if item.get_closest_marker("sqlite") and vendor != "sqlite":
        return "tests for SQLite (make test without DATABASE_URL runs them)"
    storages: dict[str, Any] = django_settings.STORAGES
    if item.get_closest_marker("local_storage") and storages["default"]["BACKEND"] != LOCAL_STORAGE:
        return "tests for a local folder storage (the default FILE_STORAGE_BACKEND runs them)"
    if item.get_closest_marker("browser") and not browser_tests:
        return "browser tests (BROWSER_TESTS=0 asked for less)"
    return None


# trylast: after pytest's own -m/-k/--deselect, so a run that left the browser tests out
# that way is not stopped for want of a browser.
@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    from django.db import connection

    browser_tests = os.environ.get("BROWSER_TESTS", "1") != "0"
    left_out: Counter[str] = Counter()
    kept, deselected = [], []
    for item in items:
        reason = _leaves_out(item, vendor=connection.vendor, browser_tests=browser_tests)
        if reason:
            left_out[reason] += 1
            deselected.append(item)
        else:
            kept.append(item)
    if not config.option.collectonly and any(item.get_closest_marker("browser") for item in kept):
        missing = missing_requirement()
        if missing:
            raise pytest.UsageError(
                f"The browser tests cannot run: {missing}; "
                "or leave them out with BROWSER_TESTS=0 make test."
            )
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept
    config.stash[_left_out] = left_out


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    for reason, count in sorted(config.stash.get(_left_out, Counter()).items()):
        # "tests for ..." / "browser tests (...)": one test is still "1 test".
        what = reason.replace("tests", "test", 1) if count == 1 else reason
        terminalreporter.write_line(f"Left out: {count} {what}.")
    not_run = _not_run(terminalreporter)
    if not_run:
        terminalreporter.write_line(
            f"FAILED: {not_run} {'test' if not_run == 1 else 'tests'} skipped or xfailed; "
            "a test that did not run is not a pass (the reasons are above).",
            red=True,
        )


def _not_run(reporter) -> int:
    """Count the tests that skipped or xfailed: neither is a pass."""
    return len(reporter.stats.get("skipped", [])) + len(reporter.stats.get("xfailed", []))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter and _not_run(reporter) and exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(autouse=True)
def sealed_in_background(settings):
    """Seal as production does (AUDIT_SEALING=background), whatever the shell's environment says.

    record_event leaves a fresh event unsealed: its sequence, prev_hash and hash are NULL,
    and the listings, exports, verification and the stream leave it out, until the
    sealer links it. A test that needs links asks for them: the helpers that read events
    (events_for, only_event, audit_events, the audit_stream fixture) drain the sealer
    first, and any other test requests `drain_sealer` and calls it where production's
    sealer would have run a round. A test of the locked design requests `inline_sealing`.
    """
    settings.AUDIT_SEALING = "background"


@pytest.fixture
def inline_sealing(settings):
    """Link each event in its writer's own transaction (AUDIT_SEALING=inline, the locked design).

    Through the same sealer code (seal_batch with the writer's event ids), at once: the
    event record_event returns carries its sequence and hash.
    """
    settings.AUDIT_SEALING = "inline"


@pytest.fixture(name="drain_sealer")
def drain_sealer_fixture(db) -> Callable[[], int]:
    """Return the background sealer's round (audit.tests.fixtures.drain_sealer), to call.

    Call it after recording and before reading sequences, links, listings or checkpoints:
    it links every event the test's connection can see, and returns how many.
    """
    return drain_sealer


@pytest.fixture(scope="session")
def checkpoint_signer_key(tmp_path_factory) -> Path:
    """Return a signer key file made once for the run (Ed25519, as audit_keys makes it)."""
    from audit.transparency.keys import create_key_file

    path = tmp_path_factory.mktemp("keys") / "audit_checkpoint_signer.key"
    create_key_file(name="test.example/ocr-audit", path=path)
    return path


@pytest.fixture(autouse=True)
def own_checkpoint_directory(settings, tmp_path, checkpoint_signer_key):
    """Give each test its own AUDIT_CHECKPOINT_DIR, and the run's checkpoint signer key.

    The default directory is under VAR_DIR, shared by every test: a checkpoint one test
    left there would be held against the next test's trail.
    """
    settings.AUDIT_CHECKPOINT_DIR = str(tmp_path / "checkpoints")
    settings.AUDIT_CHECKPOINT_SIGNER_KEY_FILE = str(checkpoint_signer_key)
    settings.AUDIT_CHECKPOINT_VERIFIER_KEYS = []
    settings.AUDIT_LOG_ORIGIN = "test.example/ocr-audit"
    # The stream too: a sealer loop in a test writes to a file of that test's own.
    settings.AUDIT_STREAM = f"file:{tmp_path / 'audit-stream.log'}"


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
    """Return the audit events recorded while serving a response, sealed, oldest first.

    The sealer is drained first, so each event has its sequence and links.
    """

    def events(response: HttpResponseBase) -> list[AuditEvent]:
        drain_sealer()
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
def audit_stream(settings, tmp_path):
    """Stream to a file of this test's own (AUDIT_STREAM=file:...), as the sealer does.

    Return a callable that runs one round of the sealer's loop, sealing then streaming
    (with seal=False the stream step alone: what is committed but not yet sealed must
    not be on the stream), and gives every line the file holds so far.
    """
    from audit.siem.streamer import stream_pending

    path = tmp_path / "audit-stream.log"
    settings.AUDIT_STREAM = f"file:{path}"

    def lines(*, seal: bool = True) -> list[str]:
        if seal:
            drain_sealer()
        stream_pending()
        return path.read_text().splitlines() if path.exists() else []

    return lines


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
