"""The audit trail of a task: who uploaded, created, processed, retried and deleted it."""

import io

import pytest
from django.core.management import call_command

from audit.events import Outcome
from audit.models import AuditEvent
from audit.tests.fixtures import drain_sealer
from tasks.models import OcrTask

from . import samples
from .conftest import API_TASKS, upload_file

PNG = samples.encode_image(samples.make_text_image(samples.KNOWN_WORDS), format="PNG")
IP = "203.0.113.7"
AGENT = "pytest-browser/1.0"


def fields(event: AuditEvent, *names: str) -> tuple:
    return tuple(getattr(event, name) for name in names)


@pytest.mark.django_db(transaction=True)
def test_one_request_id_links_upload_create_process_and_complete(
    user, client_for, api_upload, run_worker
):
    response = api_upload(client_for(user), upload_file(PNG, "invoice.png"))
    run_worker()

    request_id = response["X-Request-ID"]
    assert request_id
    [body] = response.json()
    task_id = body["id"]
    drain_sealer()
    events = list(AuditEvent.objects.filter(request_id=request_id).order_by("sequence"))
    assert [event.event_type for event in events] == [
        "file_upload",
        "task_create",
        "task_process",
        "task_complete",
    ]
    upload, create, process, complete = events
    for event in events:
        assert (event.user, event.username, event.outcome) == (user, "alice", Outcome.SUCCESS)
        assert event.resource_id == task_id
    # The request's client on the web side; the worker has no client of its own.
    for event in (upload, create):
        assert fields(event, "ip_address", "user_agent") == (IP, AGENT)
    for event in (process, complete):
        assert fields(event, "ip_address", "user_agent") == (None, "")

    assert fields(upload, "category", "resource_type") == ("file", "file")
    assert upload.metadata == {
        "filename": "invoice.png",
        "size": len(PNG),
        "content_type": "image/png",
        "sha256": body["sha256"],
        "pages": 1,
    }
    assert fields(create, "category", "resource_type") == ("task", "task")
    assert create.metadata == {
        "engine": "tesseract",
        "language": "eng",
        "pages": 1,
        "force_ocr": False,
    }
    assert process.metadata["attempt"] == 1
    assert process.metadata["worker"]
    assert {key: process.metadata[key] for key in ("engine", "language", "pages")} == {
        "engine": "tesseract",
        "language": "eng",
        "pages": 1,
    }
    assert complete.message == ""
    assert complete.metadata["pages"] == complete.metadata["page_count"] == 1
    assert complete.metadata["error"] == ""
    assert complete.metadata["seconds"] >= 0


@pytest.mark.django_db(transaction=True)
def test_callers_request_id_is_kept_and_the_servers_links_the_worker_events(
    user, client_for, api_upload, run_worker
):
    client = client_for(user)
    response = client.post(
        API_TASKS, {"file": [upload_file(PNG)]}, HTTP_X_REQUEST_ID="batch-2024-0001"
    )
    run_worker()

    # The server's id links upload -> create -> process -> complete; the caller's own
    # is kept beside it on the events recorded while serving its request.
    server_id = response["X-Request-ID"]
    assert server_id != "batch-2024-0001"
    drain_sealer()
    events = AuditEvent.objects.filter(request_id=server_id).order_by("sequence")
    assert [(e.event_type, e.metadata.get("client_request_id")) for e in events] == [
        ("file_upload", "batch-2024-0001"),
        ("task_create", "batch-2024-0001"),
        ("task_process", None),
        ("task_complete", None),
    ]


@pytest.mark.django_db(transaction=True)
def test_failed_processing_records_task_complete_failure(
    user, client_for, api_upload, run_worker, file_store, audit_events
):
    response = api_upload(client_for(user), upload_file(PNG))
    [body] = response.json()
    file_store.write(OcrTask.objects.get(pk=body["id"]).file.name, b"not a png any more")

    run_worker()

    [complete] = audit_events("task_complete", resource_id=body["id"])
    assert complete.outcome == Outcome.FAILURE
    assert complete.user == user
    assert complete.request_id == response["X-Request-ID"]
    assert complete.message.startswith("File is truncated or corrupt")
    assert complete.metadata["error"] == complete.message
    assert complete.metadata["pages"] == 0


@pytest.mark.django_db
def test_retry_is_recorded(user, client_for, make_task, processed, file_store, audit_events):
    task = make_task(user)
    file_store.write(task.file.name, b"garbage")
    error = processed(task).error

    response = client_for(user).post(f"{API_TASKS}/{task.pk}/retry")

    [retry] = audit_events("task_retry")
    assert fields(retry, "user", "outcome", "ip_address", "user_agent", "request_id") == (
        user,
        Outcome.SUCCESS,
        IP,
        AGENT,
        response["X-Request-ID"],
    )
    assert (retry.resource_type, retry.resource_id) == ("task", str(task.pk))
    assert retry.metadata == {"previous_error": error, "attempts": 1}


@pytest.fixture
def assert_deleted_once(audit_events):
    """Assert exactly one task_delete event for the task, with these fields; return it."""

    def check(task, *, actor, via: str, response=None) -> AuditEvent:
        [event] = audit_events("task_delete")
        assert (event.resource_type, event.resource_id) == ("task", str(task.pk))
        assert (event.user, event.outcome) == (actor, Outcome.SUCCESS)
        assert event.metadata == {
            "via": via,
            "owner": task.owner.username,
            "filename": task.original_name,
            "status": task.status,
        }
        if response is not None:
            assert fields(event, "ip_address", "user_agent", "request_id") == (
                IP,
                AGENT,
                response["X-Request-ID"],
            )
        return event

    return check


@pytest.mark.django_db
def test_delete_from_the_page_is_recorded_once(user, client_for, make_task, assert_deleted_once):
    task = make_task(user, upload_file(PNG, "page.png"))

    response = client_for(user).post(f"/tasks/{task.pk}/delete/")

    assert response.status_code == 302
    assert_deleted_once(task, actor=user, via="page", response=response)


@pytest.mark.django_db
def test_delete_through_the_api_is_recorded_once(user, client_for, make_task, assert_deleted_once):
    task = make_task(user)

    response = client_for(user).delete(f"{API_TASKS}/{task.pk}")

    assert response.status_code == 204
    assert_deleted_once(task, actor=user, via="api", response=response)


@pytest.mark.django_db
def test_delete_in_django_admin_is_recorded_once(
    user, staff, client_for, make_task, assert_deleted_once
):
    task = make_task(user)

    response = client_for(staff).post(f"/admin/tasks/ocrtask/{task.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert_deleted_once(task, actor=staff, via="admin", response=response)


@pytest.mark.django_db
def test_delete_by_api_cleanup_is_recorded_once(
    user, staff, client_for, make_task, assert_deleted_once, audit_events
):
    task = make_task(user)

    response = client_for(staff).post(
        "/api/v2/admin/cleanup", {"older_than_days": 0}, content_type="application/json"
    )

    assert response.json()["tasks_deleted"] == 1
    assert_deleted_once(task, actor=staff, via="cleanup", response=response)
    [cleanup] = audit_events("admin_cleanup")
    assert cleanup.metadata["via"] == "api"


@pytest.mark.django_db
def test_delete_by_the_cleanup_command_is_recorded_once(
    user, make_task, assert_deleted_once, audit_events
):
    task = make_task(user)

    call_command("cleanup_tasks", "--older-than-days", "0", stdout=io.StringIO())

    event = assert_deleted_once(task, actor=None, via="cleanup")
    assert event.username == ""
    [cleanup] = audit_events("admin_cleanup")
    assert (cleanup.user, cleanup.metadata["via"]) == (None, "command")


def task_deletes() -> dict[str, list[AuditEvent]]:
    """Return the task_delete events by task id: a task deleted once has one."""
    found: dict[str, list[AuditEvent]] = {}
    drain_sealer()
    for event in AuditEvent.objects.filter(event_type="task_delete").order_by("sequence"):
        found.setdefault(event.resource_id, []).append(event)
    return found


@pytest.mark.django_db
def test_bulk_delete_in_django_admin_is_recorded_once_per_task(
    user, other_user, staff, client_for, make_task
):
    tasks = [make_task(user), make_task(other_user)]

    response = client_for(staff).post(
        "/admin/tasks/ocrtask/",
        {
            "action": "delete_selected",
            "_selected_action": [str(task.pk) for task in tasks],
            "post": "yes",
        },
    )

    assert response.status_code == 302
    recorded = task_deletes()
    assert sorted(recorded) == sorted(str(task.pk) for task in tasks)
    for task in tasks:
        [event] = recorded[str(task.pk)]
        assert (event.user, event.metadata["via"], event.metadata["owner"]) == (
            staff,
            "admin",
            task.owner.username,
        )
        assert fields(event, "ip_address", "user_agent", "request_id") == (
            IP,
            AGENT,
            response["X-Request-ID"],
        )


@pytest.mark.django_db
def test_a_user_deleted_in_django_admin_takes_their_tasks_each_recorded_once(
    user, other_user, staff, client_for, make_task
):
    theirs = [make_task(user), make_task(user)]
    kept = make_task(other_user)

    response = client_for(staff).post(f"/admin/auth/user/{user.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert list(OcrTask.objects.all()) == [kept]
    recorded = task_deletes()
    assert sorted(recorded) == sorted(str(task.pk) for task in theirs)
    for task in theirs:
        [event] = recorded[str(task.pk)]
        assert (event.user, event.outcome) == (staff, Outcome.SUCCESS)
        assert event.metadata == {
            "via": "cascade",
            "cascade_from": "auth.user",
            "surface": "admin",
            "owner": "alice",
            "filename": task.original_name,
            "status": task.status,
        }
        assert fields(event, "ip_address", "user_agent", "request_id") == (
            IP,
            AGENT,
            response["X-Request-ID"],
        )


@pytest.mark.django_db
def test_a_user_deleted_from_a_shell_takes_their_tasks_each_recorded_once(user, make_task):
    task = make_task(user)

    user.delete()

    [event] = task_deletes()[str(task.pk)]
    assert (event.user, event.username) == (None, "")
    assert {key: event.metadata[key] for key in ("via", "cascade_from", "surface", "owner")} == {
        "via": "cascade",
        "cascade_from": "auth.user",
        "surface": "shell",
        "owner": "alice",
    }
    assert event.metadata["os_user"]
    assert fields(event, "ip_address", "user_agent", "request_id") == (None, "", "")


@pytest.mark.django_db
def test_tasks_deleted_by_hand_in_a_shell_are_each_recorded_once(user, make_task):
    one, two, three = make_task(user), make_task(user), make_task(user)
    ids = sorted(str(task.pk) for task in (one, two, three))

    OcrTask.objects.filter(pk__in=[one.pk, two.pk]).delete()
    three.delete()

    recorded = task_deletes()
    assert sorted(recorded) == ids
    for events in recorded.values():
        [event] = events
        assert (event.user, event.metadata["via"], event.metadata["owner"]) == (
            None,
            "shell",
            "alice",
        )
        assert event.metadata["os_user"]
        assert "cascade_from" not in event.metadata
