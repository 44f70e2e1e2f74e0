"""Django admin: staff see every task, read-only; tasks are never added there."""

import pytest

from tasks.models import OcrTask

from . import samples
from .conftest import upload_file

CHANGELIST = "/admin/tasks/ocrtask/"
PNG = samples.encode_image(samples.make_text_image(samples.KNOWN_WORDS), format="PNG")

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(staff, client_for):
    return client_for(staff)


def test_staff_see_every_users_tasks(admin_client, user, other_user, make_task_row):
    make_task_row(user, original_name="alice-scan.png")
    make_task_row(other_user, original_name="mallory-scan.png")

    html = admin_client.get(CHANGELIST).content.decode()

    assert "alice-scan.png" in html and "mallory-scan.png" in html
    assert "Clean up old tasks" in html
    assert "/admin/tasks/ocrtask/add/" not in html


def test_changelist_filters_and_searches(admin_client, user, other_user, make_task_row):
    make_task_row(user, original_name="done.png", status="completed")
    make_task_row(other_user, original_name="failed.png", status="failed")

    by_status = admin_client.get(f"{CHANGELIST}?status__exact=failed").content.decode()
    by_owner = admin_client.get(f"{CHANGELIST}?q=alice").content.decode()

    assert "failed.png" in by_status and "done.png" not in by_status
    assert "done.png" in by_owner and "failed.png" not in by_owner


def test_change_view_is_read_only_with_the_pages(
    admin_client, user, make_task, processed, stored_files
):
    task = processed(make_task(user, upload_file(PNG, "receipt.png")))
    url = f"{CHANGELIST}{task.pk}/change/"

    page = admin_client.get(url)
    attempt = admin_client.post(url, {"original_name": "renamed.png", "status": "queued"})

    assert page.status_code == 200
    html = page.content.decode()
    assert "receipt.png" in html and task.sha256 in html
    assert 'name="_save"' not in html
    assert 'name="original_name"' not in html
    for word in samples.KNOWN_WORDS:
        assert word in html
    assert attempt.status_code == 403
    task.refresh_from_db()
    assert (task.original_name, task.status) == ("receipt.png", "completed")
    assert stored_files() == sorted([task.file.name, task.searchable_pdf.name])


def test_tasks_cannot_be_added_in_admin(admin_client, stored_files):
    assert admin_client.get(f"{CHANGELIST}add/").status_code == 403
    assert admin_client.post(f"{CHANGELIST}add/", {"original_name": "x"}).status_code == 403
    assert not OcrTask.objects.exists()
    assert stored_files() == []


def test_admin_bulk_delete_removes_tasks_and_files_recording_each_once(
    admin_client, staff, user, other_user, make_task, stored_files, audit_events,
    django_capture_on_commit_callbacks,
):  # fmt: skip
    tasks = [make_task(user), make_task(other_user)]

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            CHANGELIST,
            {
                "action": "delete_selected",
                "_selected_action": [str(task.pk) for task in tasks],
                "post": "yes",
            },
        )

    assert response.status_code == 302
    assert not OcrTask.objects.exists()
    assert stored_files() == []
    events = audit_events("task_delete")
    assert sorted(event.resource_id for event in events) == sorted(str(t.pk) for t in tasks)
    assert {(event.user, event.metadata["via"]) for event in events} == {(staff, "admin")}
    assert sorted(event.metadata["owner"] for event in events) == ["alice", "mallory"]


def test_users_cannot_reach_the_task_admin(user, client_for, make_task_row):
    task = make_task_row(user)
    client = client_for(user)

    for url in (CHANGELIST, f"{CHANGELIST}{task.pk}/change/", f"{CHANGELIST}{task.pk}/delete/"):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/admin/login/"), url
    assert client.post(f"{CHANGELIST}{task.pk}/delete/", {"post": "yes"}).status_code == 302
    assert OcrTask.objects.count() == 1
