"""Nothing lost: an action and its audit event commit together or not at all.

The audit insert is made to fail in the database itself (a trigger refusing inserts into
the audit table), and each action must then leave no trace: no row, no file, no token.
"""

from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django_tasks_db.models import DBTaskResult
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.models import UserSession
from audit.models import AuditEvent
from audit.tests.fixtures import PASSWORD
from tasks.models import OcrTask, Status
from tasks.services.creation import task_create_batch
from tasks.tests import samples

# Real commits: on_commit work (file removal, job enqueueing) happens or not as in production.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fresh_cache")]

PNG = samples.encode_image(samples.make_text_image(samples.KNOWN_WORDS), format="PNG")
REFUSAL = "audit store unavailable"

INSTALL_TRIGGER = {
    "sqlite": [
        "CREATE TRIGGER audit_insert_refused BEFORE INSERT ON audit_auditevent "
        f"BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END"
    ],
    "postgresql": [
        "CREATE FUNCTION audit_insert_refused() RETURNS trigger AS $$ "
        f"BEGIN RAISE EXCEPTION '{REFUSAL}'; END $$ LANGUAGE plpgsql",
        "CREATE TRIGGER audit_insert_refused BEFORE INSERT ON audit_auditevent "
        "FOR EACH ROW EXECUTE FUNCTION audit_insert_refused()",
    ],
}
DROP_TRIGGER = {
    "sqlite": ["DROP TRIGGER IF EXISTS audit_insert_refused"],
    "postgresql": [
        "DROP TRIGGER IF EXISTS audit_insert_refused ON audit_auditevent",
        "DROP FUNCTION IF EXISTS audit_insert_refused()",
    ],
}


def run_sql(statements: list[str]) -> None:
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


@pytest.fixture
def audit_down(db) -> Iterator[Callable[[bool], None]]:
    """Return a switch: audit_down(True) makes every audit insert fail in the database."""
    vendor = connection.vendor
    if vendor not in INSTALL_TRIGGER:
        pytest.fail(f"no refusing trigger written for {vendor}: add one to INSTALL_TRIGGER")

    def switch(down: bool) -> None:
        run_sql(DROP_TRIGGER[vendor])
        if down:
            run_sql(INSTALL_TRIGGER[vendor])

    yield switch
    switch(False)


def browser(user=None) -> Client:
    # The server answers 500 as it would in production rather than raising into the test.
    client = Client(raise_request_exception=False, REMOTE_ADDR="203.0.113.7")
    if user is not None:
        client.force_login(user)
    return client


def png(name: str = "scan.png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, PNG, content_type="application/octet-stream")


def make_task(owner, *, days_old: int = 0) -> OcrTask:
    [task] = task_create_batch(owner=owner, uploads=[png()])
    if days_old:
        OcrTask.objects.filter(pk=task.pk).update(
            created_at=task.created_at - timedelta(days=days_old)
        )
    return task


def test_audit_failure_is_a_database_error_not_a_silent_skip(user, audit_down):
    audit_down(True)

    with pytest.raises(Exception, match=REFUSAL):
        make_task(user)


@pytest.mark.parametrize(
    ("url", "page"), [("/api/v2/tasks", False), ("/tasks/upload/", True)], ids=["api", "page"]
)
def test_upload_stores_nothing_when_its_audit_event_fails(
    user, audit_down, stored_files, url, page
):
    client = browser(user)
    audit_down(True)

    response = client.post(url, {"file": [png(), png("second.png")]})

    assert response.status_code == 500
    assert not OcrTask.objects.exists()
    assert not DBTaskResult.objects.exists()
    assert stored_files() == []
    audit_down(False)
    assert client.post(url, {"file": [png()]}).status_code == (302 if page else 201)
    assert OcrTask.objects.count() == 1
    assert len(stored_files()) == 1


def test_jwt_login_issues_no_token_when_its_audit_event_fails(user, audit_down):
    audit_down(True)
    body = {"username": user.username, "password": PASSWORD}

    response = browser().post("/api/v2/auth/login", body, content_type="application/json")

    assert response.status_code == 500
    assert b"refresh" not in response.content
    assert not OutstandingToken.objects.exists()
    audit_down(False)
    assert browser().post("/api/v2/auth/login", body, "application/json").status_code == 200
    assert OutstandingToken.objects.count() == 1


def test_session_login_starts_no_session_when_its_audit_event_fails(user, audit_down):
    client = browser()
    audit_down(True)

    response = client.post("/accounts/login/", {"username": user.username, "password": PASSWORD})

    assert response.status_code == 500
    # Django's SessionMiddleware does not save a session on a 500: no one is logged in.
    assert not UserSession.objects.filter(user_id=user.pk).exists()
    assert client.get("/").status_code == 302


def test_jwt_refresh_rotates_nothing_when_its_audit_event_fails(user, audit_down):
    refresh = RefreshToken.for_user(user)
    audit_down(True)

    response = browser().post(
        "/api/v2/auth/refresh", {"refresh": str(refresh)}, content_type="application/json"
    )

    assert response.status_code == 500
    assert not BlacklistedToken.objects.exists()
    assert list(OutstandingToken.objects.values_list("jti", flat=True)) == [refresh["jti"]]


def test_logout_everywhere_ends_nothing_when_its_audit_event_fails(user, audit_down):
    client = browser(user)
    RefreshToken.for_user(user)
    audit_down(True)

    response = client.post("/accounts/logout-all/")

    assert response.status_code == 500
    assert UserSession.objects.filter(user_id=user.pk).count() == 1
    assert not BlacklistedToken.objects.exists()


@pytest.mark.parametrize("surface", ["page", "api"])
def test_task_delete_keeps_the_task_and_its_file_when_its_audit_event_fails(
    user, audit_down, stored_files, surface
):
    task = make_task(user)
    client = browser(user)
    audit_down(True)

    if surface == "page":
        response = client.post(f"/tasks/{task.pk}/delete/")
    else:
        response = client.delete(f"/api/v2/tasks/{task.pk}")

    assert response.status_code == 500
    assert OcrTask.objects.filter(pk=task.pk).exists()
    assert stored_files() == [task.file.name]
    audit_down(False)
    client.post(f"/tasks/{task.pk}/delete/")
    assert not OcrTask.objects.exists()
    assert stored_files() == []


def test_task_retry_leaves_the_task_failed_when_its_audit_event_fails(user, audit_down):
    task = make_task(user)
    OcrTask.objects.filter(pk=task.pk).update(status=Status.FAILED, error="boom")
    jobs = DBTaskResult.objects.count()
    client = browser(user)
    audit_down(True)

    response = client.post(f"/tasks/{task.pk}/retry/")

    assert response.status_code == 500
    task.refresh_from_db()
    assert (task.status, task.error) == (Status.FAILED, "boom")
    assert DBTaskResult.objects.count() == jobs


@pytest.mark.parametrize("surface", ["api", "admin"])
def test_cleanup_deletes_nothing_when_its_audit_event_fails(
    user, staff, audit_down, stored_files, settings, file_store, surface
):
    settings.OCR_ORPHAN_GRACE_SECONDS = 0
    old = make_task(user, days_old=40)
    file_store.write("uploads/2020/01/" + "a" * 32 + ".png", b"orphan", age_seconds=7200)
    before = stored_files()
    client = browser(staff)
    audit_down(True)

    if surface == "api":
        response = client.post(
            "/api/v2/admin/cleanup",
            {"older_than_days": 30, "dry_run": False},
            content_type="application/json",
        )
    else:
        # The confirmed real run: without "confirmed" the admin only asks "Are you sure?".
        response = client.post(
            "/admin/tasks/ocrtask/cleanup/", {"older_than_days": 30, "confirmed": "on"}
        )

    assert response.status_code == 500
    assert OcrTask.objects.filter(pk=old.pk).exists()
    assert stored_files() == before
    assert len(before) == 2
    assert not AuditEvent.objects.filter(event_type__in=["admin_cleanup", "task_delete"]).exists()
