"""Refused access is on the record: staff surfaces (403) and other users' tasks (404)."""

import uuid

from audit.models import AuditEvent
from audit.recording.access import ACCESS_DENIED_PER_USER_PER_MINUTE
from audit.tests.fixtures import drain_sealer

AUDIT_API = "/api/v2/admin/audit-logs"


def refusals() -> list[AuditEvent]:
    drain_sealer()
    return list(AuditEvent.objects.filter(event_type="access_denied").order_by("sequence"))


def test_a_staff_member_without_the_permission_is_recorded_once_a_minute(make_user, client_for):
    staff = make_user(username="nosy", staff=True)
    client = client_for(staff)
    statuses = [client.get(AUDIT_API).status_code for _ in range(5)]
    assert statuses == [403] * 5
    [event] = refusals()
    assert (event.outcome, event.user_id, event.username) == ("failure", staff.pk, "nosy")
    assert event.metadata == {
        "path": AUDIT_API,
        "method": "GET",
        "status": 403,
        "permission": "audit.view_auditevent",
    }
    # Another path is another refusal.
    assert client.get("/admin/dashboard/").status_code == 403
    assert [event.metadata["path"] for event in refusals()] == [AUDIT_API, "/admin/dashboard/"]


def test_an_admin_page_refusal_is_recorded(make_user, client_for):
    staff = make_user(username="nosy", staff=True)
    response = client_for(staff).get("/admin/audit/auditevent/")
    assert response.status_code == 403
    [event] = refusals()
    assert event.metadata["path"] == "/admin/audit/auditevent/"


def test_anonymous_refusals_write_nothing(browser, db):
    assert browser.get(AUDIT_API).status_code == 401
    assert browser.get("/admin/dashboard/").status_code == 302
    assert refusals() == []


def test_probing_another_users_task_stays_404_and_is_recorded(
    user, other_user, client_for, make_task_row
):
    theirs = make_task_row(other_user)
    client = client_for(user)
    pages = [
        f"/tasks/{theirs.pk}/",
        f"/tasks/{theirs.pk}/pages/1.png",
        f"/tasks/{theirs.pk}/original/",
        f"/api/v2/tasks/{theirs.pk}",
        f"/api/v2/tasks/{theirs.pk}/result",
    ]
    assert [client.get(path).status_code for path in pages] == [404] * len(pages)
    events = refusals()
    assert [event.metadata["path"] for event in events] == pages
    assert {(e.username, e.resource_type, e.resource_id) for e in events} == {
        ("alice", "task", str(theirs.pk))
    }
    assert {event.metadata["status"] for event in events} == {404}


def test_a_task_that_does_not_exist_is_a_plain_404(user, client_for):
    response = client_for(user).get(f"/api/v2/tasks/{uuid.uuid4()}")
    assert response.status_code == 404
    assert refusals() == []


def test_a_signed_in_non_staff_user_turned_away_from_the_admin_is_recorded(user, client_for):
    response = client_for(user).get("/admin/dashboard/")
    assert response.status_code == 302
    [event] = refusals()
    assert (event.username, event.metadata["path"], event.metadata["status"]) == (
        "alice",
        "/admin/dashboard/",
        302,
    )


def test_varying_the_path_does_not_flood_the_trail(user, other_user, client_for, make_task_row):
    # /download.<fmt> and /pages/<n>.png take any value: each is a new path, so the
    # per-path window alone let one script write a row per request.
    theirs = make_task_row(other_user)
    client = client_for(user)
    statuses = {client.get(f"/tasks/{theirs.pk}/download.x{n}").status_code for n in range(40)}
    assert statuses == {404}
    events = refusals()
    assert len(events) == ACCESS_DENIED_PER_USER_PER_MINUTE + 1
    # The last row says the rest went unrecorded, so the flood itself stays visible.
    assert [event.metadata.get("further_refusals_suppressed") for event in events] == [None] * (
        ACCESS_DENIED_PER_USER_PER_MINUTE
    ) + [True]
    # Another user's refusals have their own allowance.
    assert client_for(other_user).get("/admin/dashboard/").status_code == 302
    assert refusals()[-1].username == other_user.username
