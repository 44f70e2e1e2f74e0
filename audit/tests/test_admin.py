"""The audit trail in the Django admin: readable and exportable, never editable."""

import csv
import io
import re
from datetime import UTC, datetime

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Permission
from django.http import StreamingHttpResponse

from audit.api.export import EXPORT_COLUMNS
from audit.models import AuditEvent
from audit.recording.client import ClientContext
from audit.services import record_event
from audit.tests.fixtures import drain_sealer, request_id, sealed

CHANGELIST = "/admin/audit/auditevent/"


@pytest.fixture
def events(user):
    return sealed(
        [
            record_event(
                event_type="auth_login",
                user=user,
                client=ClientContext("198.51.100.1", "agent/1", "req-admin-0001"),
                resource_type="user",
                resource_id=user.pk,
            ),
            record_event(
                event_type="auth_login",
                outcome="failure",
                username="mallory",
                client=ClientContext("198.51.100.2", "agent/2", "req-admin-0002"),
                resource_type="user",
            ),
            record_event(
                event_type="task_create",
                user=user,
                client=ClientContext("2001:db8::5", "agent/1", "req-admin-0003"),
                resource_type="task",
                resource_id="task-1",
            ),
        ]
    )


@pytest.fixture
def admin_client(client_for, staff, events):
    client = client_for(staff)
    drain_sealer()  # the sealer's round after the seeds and the login
    return client


def shown(response) -> list[int]:
    """Return the ids of the events listed on a changelist page."""
    assert response.status_code == 200
    return [event.pk for event in response.context["cl"].result_list]


def test_changelist_lists_events_with_their_columns(admin_client, events):
    before = AuditEvent.objects.count()
    response = admin_client.get(CHANGELIST)
    assert set(shown(response)) >= {event.pk for event in events}
    assert response.context["cl"].result_count == before
    html = response.content.decode()
    for header in ("Timestamp", "Event type", "Outcome", "Username", "IP address"):
        assert header in html
    for value in ("mallory", "198.51.100.2", "task_create", "task-1"):
        assert value in html


def test_columns_filters_and_fields_are_named_in_chinese_in_a_chinese_session(admin_client, events):
    html = admin_client.get(CHANGELIST, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    columns = re.findall(
        r'<th scope="col" class="[^"]*column-[^"]*">\s*(?:<div[^>]*>[^<]*</div>)?\s*'
        r'<div class="text">(?:<a [^>]*>|<span>)([^<]+)<',
        html,
    )
    filters = re.findall(r'data-filter-title="([^"]+)"', html)
    choices = re.findall(r'<a href="\?(?:category|outcome)__exact=\w+">([^<]+)</a>', html)
    assert len(columns) == 7 and len(filters) == 7 and len(choices) == 8
    chinese = re.compile(r"[\u4e00-\u9fff]")
    assert [name for name in columns + filters + choices if not chinese.search(name)] == []
    # The change page labels every field in Chinese too; the values stay as recorded.
    page = admin_client.get(
        f"/admin/audit/auditevent/{events[1].pk}/change/", HTTP_ACCEPT_LANGUAGE="zh-hans"
    ).content.decode()
    labels = re.findall(r"<label>([^<]+):</label>", page)
    # Every field, the event type first in words beside its code: once, not a second
    # "事件类型" row with the bare code (two rows of one name read as two different things).
    assert len(labels) == len(AuditEvent._meta.fields)
    assert labels.count("事件类型") == 1
    in_words = '<span class="event-label">登录</span> <code class="event-code">auth_login</code>'
    assert in_words in page
    # "ID" (the primary key) reads the same in Chinese.
    assert [label for label in labels if not chinese.search(label)] == ["ID"]
    assert "auth_login" in page and "mallory" in page
    # Event types in words beside their codes: the column, and the filter's choices.
    assert (
        '<span class="event-label">登录</span> <code class="event-code">auth_login</code>' in html
    )
    assert "OCR 任务已完成 <code>task_complete</code>" in html


def test_viewing_the_changelist_is_recorded_once(admin_client, staff, only_event):
    response = admin_client.get(CHANGELIST, {"outcome__exact": "failure"})
    event = only_event(response)
    assert (event.event_type, event.category, event.user_id, event.resource_type) == (
        "audit_view",
        "audit",
        staff.pk,
        "audit_log",
    )
    assert event.ip_address == "203.0.113.7"
    assert event.metadata == {"surface": "admin", "filters": {"outcome__exact": "failure"}}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"event_type": "task_create"}, [2]),
        ({"category__exact": "task"}, [2]),
        ({"outcome__exact": "failure"}, [1]),
        ({"q": "mallory"}, [1]),
        ({"q": "198.51.100.1"}, [0]),
        ({"q": "2001:db8::5"}, [2]),
        ({"q": "req-admin-0002"}, [1]),
        ({"q": "task-1"}, [2]),
        # Not an address: PostgreSQL must not choke comparing it with the inet column.
        ({"q": "not-an-address"}, []),
    ],
)
def test_filters_and_search_narrow_the_list(admin_client, events, params, expected):
    response = admin_client.get(CHANGELIST, params)
    listed = set(shown(response)) & {event.pk for event in events}
    assert listed == {events[index].pk for index in expected}


def test_date_hierarchy_drills_down_by_day(admin_client, events):
    today = datetime.now(UTC)
    response = admin_client.get(
        CHANGELIST,
        {
            "timestamp__year": today.year,
            "timestamp__month": today.month,
            "timestamp__day": today.day,
        },
    )
    assert set(shown(response)) >= {event.pk for event in events}
    response = admin_client.get(CHANGELIST, {"timestamp__year": today.year - 1})
    assert shown(response) == []


def test_nothing_can_be_added(admin_client):
    before = AuditEvent.objects.order_by("-sequence").values_list("sequence", flat=True).first()
    assert admin_client.get(f"{CHANGELIST}add/").status_code == 403
    response = admin_client.post(
        f"{CHANGELIST}add/", {"event_type": "auth_login", "outcome": "success"}
    )
    assert response.status_code == 403
    drain_sealer()
    # The refusal itself is on the record (once: repeats within a minute coalesce).
    added = AuditEvent.objects.filter(sequence__gt=before or 0).values_list("event_type", flat=True)
    assert list(added) == ["access_denied"]


def test_an_event_can_be_viewed_but_not_changed(admin_client, events):
    event = events[1]
    url = f"{CHANGELIST}{event.pk}/change/"
    page = admin_client.get(url)
    assert page.status_code == 200
    assert "mallory" in page.content.decode()
    assert 'name="_save"' not in page.content.decode()
    response = admin_client.post(url, {"username": "innocent", "outcome": "success"})
    assert response.status_code == 403
    stored = AuditEvent.objects.get(pk=event.pk)
    assert (stored.username, stored.outcome, stored.hash) == ("mallory", "failure", event.hash)


def test_nothing_can_be_deleted(admin_client, events):
    url = f"{CHANGELIST}{events[0].pk}/delete/"
    assert admin_client.get(url).status_code == 403
    assert admin_client.post(url, {"post": "yes"}).status_code == 403
    assert AuditEvent.objects.filter(pk=events[0].pk).exists()


def test_there_is_no_bulk_delete_action(admin_client, events):
    response = admin_client.get(CHANGELIST)
    choices = [name for name, _ in response.context["action_form"].fields["action"].choices]
    assert "export_csv" in choices
    assert "delete_selected" not in choices
    before = AuditEvent.objects.count()
    response = admin_client.post(
        CHANGELIST,
        {"action": "delete_selected", ACTION_CHECKBOX_NAME: [e.pk for e in events], "post": "yes"},
    )
    assert response.status_code in (200, 302)
    assert AuditEvent.objects.count() == before


def test_export_action_returns_csv_of_the_selected_rows(admin_client, events, staff, only_event):
    selected = [events[0].pk, events[2].pk]
    response = admin_client.post(
        CHANGELIST, {"action": "export_csv", ACTION_CHECKBOX_NAME: selected, "index": 0}
    )
    assert response.status_code == 200
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith('attachment; filename="audit-')
    body = b"".join(response.streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(body)))
    assert tuple(rows[0]) == EXPORT_COLUMNS
    assert [int(row["id"]) for row in rows] == sorted(selected, reverse=True)
    assert [row["request_id"] for row in rows] == ["req-admin-0003", "req-admin-0001"]
    # One audit_export for the download; the POST is not also recorded as a view.
    event = only_event(response)
    assert (event.event_type, event.user_id) == ("audit_export", staff.pk)
    assert event.metadata == {
        "surface": "admin",
        "format": "csv",
        "filters": {},
        "selected": 2,
        "select_across": False,
    }


def test_export_of_every_match_says_so_in_its_event(admin_client, events, only_event):
    # Ticking three rows and "Select all matching" read alike in the trail before.
    response = admin_client.post(
        CHANGELIST + "?outcome__exact=success",
        {
            "action": "export_csv",
            ACTION_CHECKBOX_NAME: [events[0].pk],
            "select_across": "1",
            "index": 0,
        },
    )
    b"".join(response.streaming_content)

    event = only_event(response)
    assert event.metadata["select_across"] is True
    assert event.metadata["filters"] == {"outcome__exact": "success"}


def test_non_staff_users_cannot_open_the_admin(client_for, user, events):
    response = client_for(user).get(CHANGELIST)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert not AuditEvent.objects.filter(event_type="audit_view").exists()


def test_staff_without_permission_are_refused(client_for, make_user, events):
    response = client_for(make_user(staff=True)).get(CHANGELIST)
    assert response.status_code == 403
    assert not AuditEvent.objects.filter(event_type="audit_view").exists()


def test_reads_of_the_log_are_hidden_by_default_behind_a_toggle_and_still_recorded(
    admin_client,
):
    from audit.services import record_event

    record_event(event_type="auth_login", username="alice", resource_type="user")
    admin_client.get("/admin/audit/auditevent/")  # an audit_view, recorded
    drain_sealer()  # listed once the sealer linked it

    default = admin_client.get("/admin/audit/auditevent/")
    shown = admin_client.get("/admin/audit/auditevent/", {"reads": "shown"})

    types = {event.event_type for event in default.context["cl"].result_list}
    assert "audit_view" not in types and "auth_login" in types
    assert default.context["cl"].result_count == len(default.context["cl"].result_list)
    assert "audit_view" in {event.event_type for event in shown.context["cl"].result_list}
    assert "?reads=shown" in default.content.decode()
    assert AuditEvent.objects.filter(event_type="audit_view").count() == 3


def test_user_filter_is_a_searchable_field_with_suggestions(admin_client, make_user):
    from audit.services import record_event

    make_user(username="bob")
    record_event(event_type="auth_login", username="bob", resource_type="user")
    record_event(event_type="auth_login", username="alice", resource_type="user")
    drain_sealer()

    page = admin_client.get("/admin/audit/auditevent/", {"username": "bob"})

    body = page.content.decode()
    assert [event.username for event in page.context["cl"].result_list] == ["bob"]
    assert 'list="username-suggestions"' in body and '<option value="bob">' in body


def test_long_messages_and_resource_ids_are_cut_short_with_the_whole_in_a_tooltip(
    admin_client, user
):
    message = "Completed 12 pages of " + "a-very-long-file-name-" * 6 + ".pdf in 14.2 s"
    task_id = "6d23d9ad-b0ae-48ea-9fe1-24eb9629ea6e"
    record_event(
        event_type="task_complete",
        user=user,
        resource_type="task",
        resource_id=task_id,
        message=message,
    )
    drain_sealer()

    body = admin_client.get(CHANGELIST).content.decode()

    shown = f"{message[:79]}…"
    assert f'<td class="field-short_message"><span title="{message}">{shown}</span></td>' in body
    assert (
        f'<span class="resource-type">task</span> <span class="resource-id" title="{task_id}">'
        in body
    )


def test_audit_list_shows_the_message_and_seconds_with_the_zone(admin_client):
    from audit.services import record_event

    record_event(
        event_type="admin_cleanup", username="root", resource_type="task", message="Cleanup done"
    )
    drain_sealer()

    body = admin_client.get("/admin/audit/auditevent/").content.decode()

    assert (
        '<td class="field-short_message"><span title="Cleanup done">Cleanup done</span></td>'
        in body
    )
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", body)


@pytest.fixture
def clerk(make_user):
    """A staff user who may view the audit log and nothing else."""
    account = make_user(username="clerk", staff=True)
    account.user_permissions.add(Permission.objects.get(codename="view_auditevent"))
    return account


def test_each_read_of_one_event_is_recorded(client_for, clerk, events):
    event = events[1]
    browser = client_for(clerk)
    before = AuditEvent.objects.filter(event_type="audit_view").count()
    request_ids = []
    for _ in range(10):
        response = browser.get(f"{CHANGELIST}{event.pk}/change/", HTTP_USER_AGENT="reader/7")
        assert response.status_code == 200
        assert event.hash in response.content.decode()  # the hashes and MACs are shown
        request_ids.append(request_id(response))

    views = AuditEvent.objects.filter(event_type="audit_view").order_by("sequence")[before:]
    assert [
        (
            v.category,
            v.user_id,
            v.username,
            v.ip_address,
            v.user_agent,
            v.request_id,
            v.resource_type,
            v.resource_id,
            v.metadata,
        )
        for v in views
    ] == [
        (
            "audit",
            clerk.pk,
            "clerk",
            "203.0.113.7",
            "reader/7",
            rid,
            "audit_event",
            str(event.pk),
            {"surface": "admin", "page": "change", "sequence": event.sequence},
        )
        for rid in request_ids
    ]


def test_reading_an_events_history_page_is_recorded(client_for, clerk, events, only_event):
    event = events[0]
    response = client_for(clerk).get(f"{CHANGELIST}{event.pk}/history/")
    assert response.status_code == 200
    view = only_event(response)
    assert (view.event_type, view.user_id, view.resource_type, view.resource_id) == (
        "audit_view",
        clerk.pk,
        "audit_event",
        str(event.pk),
    )
    assert view.metadata == {"surface": "admin", "page": "history", "sequence": event.sequence}


def test_the_short_address_of_an_event_reads_it_only_once_redirected(
    client_for, clerk, events, events_for
):
    # /admin/audit/auditevent/<id>/ redirects to the change page; the redirect shows nothing.
    response = client_for(clerk).get(f"{CHANGELIST}{events[0].pk}/")
    assert response.status_code == 302
    assert response["Location"].endswith(f"/{events[0].pk}/change/")
    assert events_for(response) == []


def test_an_event_that_is_not_there_records_no_read(client_for, clerk, events, events_for):
    response = client_for(clerk).get(f"{CHANGELIST}999999/change/")
    assert response.status_code == 302  # the admin's "doesn't exist" redirect to its index
    assert events_for(response) == []


def test_staff_without_the_view_permission_are_refused_one_event_and_it_is_recorded(
    client_for, make_user, events, only_event
):
    for page in ("change", "history"):
        path = f"{CHANGELIST}{events[0].pk}/{page}/"
        response = client_for(make_user(staff=True)).get(path)
        assert response.status_code == 403
        refusal = only_event(response)
        assert (refusal.event_type, refusal.outcome) == ("access_denied", "failure")
        assert refusal.metadata == {"path": path, "method": "GET", "status": 403}
    assert not AuditEvent.objects.filter(event_type="audit_view").exists()
