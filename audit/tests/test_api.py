"""GET /api/v2/admin/audit-logs: filters, pagination, exports and who may read."""

import csv
import io
import json
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from unittest import mock

import pytest
from django.http import StreamingHttpResponse
from django.test import override_settings

from audit import services
from audit.api.export import EXPORT_COLUMNS, NDJSON_FIELDS
from audit.models import AuditEvent
from audit.recording.client import ClientContext
from audit.services import record_event
from audit.tests.fixtures import drain_sealer, sealed

URL = "/api/v2/admin/audit-logs"
START = datetime(2025, 1, 1, 10, 0, tzinfo=UTC)

# The keys of one result. `sequence` is returned beside the documented fields on
# purpose: it is the event's place in the hash chain, and a SIEM pulling the trail
# uses it to notice gaps. The hash columns are not part of the listing.
RESULT_KEYS = {
    "id",
    "sequence",
    "timestamp",
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
}


def days(n: int) -> datetime:
    return START + timedelta(days=n)


@contextmanager
def stamped(times):
    """Record events stamped at the given times instead of now, linked at once.

    Through the locked design (AUDIT_SEALING=inline), which stamps with the application
    clock set here: background sealing on PostgreSQL stamps with the database's.
    """
    clock = iter(times)
    with (
        override_settings(AUDIT_SEALING="inline"),
        mock.patch.object(services, "timezone", SimpleNamespace(now=lambda: next(clock))),
    ):
        yield


@pytest.fixture
def seeded(user, staff):
    """Six varied events, one a day from 2025-01-01, recorded before anything else."""
    with stamped(days(n) for n in range(6)):
        return {
            "login": record_event(
                event_type="auth_login",
                user=user,
                client=ClientContext("198.51.100.1", "agent/1", "req-login-0001"),
                resource_type="user",
                resource_id=user.pk,
                metadata={"method": "session"},
            ),
            "failed": record_event(
                event_type="auth_login",
                outcome="failure",
                username="mallory",
                client=ClientContext("198.51.100.2", "agent/2", "req-fail-0002"),
                resource_type="user",
                message="Login refused: invalid credentials",
            ),
            "logout": record_event(
                event_type="auth_logout",
                user=user,
                client=ClientContext("2001:db8::1", "agent/1", "req-logout-0003"),
                resource_type="user",
                resource_id=user.pk,
            ),
            "task": record_event(
                event_type="task_create",
                user=user,
                client=ClientContext("198.51.100.1", "agent/1", "req-task-0004"),
                resource_type="task",
                resource_id="7c9e6679-7425-40de-944b-e07fc1f90ae7",
            ),
            "users": record_event(
                event_type="admin_view_users",
                user=staff,
                client=ClientContext("198.51.100.3", "agent/3", "req-users-0005"),
                resource_type="user",
            ),
            "refresh": record_event(
                event_type="auth_token_refresh",
                outcome="failure",
                client=ClientContext("198.51.100.2", "agent/2", "req-refresh-0006"),
                resource_type="token",
            ),
        }


@pytest.fixture
def staff_client(seeded, staff_client):
    # Logging in records an auth_login (stamped now), so it comes after the seeds;
    # the sealer's round links it.
    drain_sealer()
    return staff_client


def listed(response, seeded) -> list[int]:
    """Return the ids of the seeded events on a JSON page, in page order.

    Events the test's own requests recorded (the staff login, each request's
    audit_view) are set aside: the tests are about the seeded rows.
    """
    assert response.status_code == 200, response.content
    seeds = {event.pk for event in seeded.values()}
    return [row["id"] for row in response.json()["results"] if row["id"] in seeds]


def ids(seeded, *names) -> list[int]:
    """Return seed ids newest first, as the API lists them."""
    return sorted((seeded[name].pk for name in names), reverse=True)


# --- who may read ----------------------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "csv", "ndjson"])
def test_anonymous_callers_get_401(browser, db, fmt):
    response = browser.get(URL, {"format": fmt})
    assert response.status_code == 401
    assert "detail" in response.json()
    assert not AuditEvent.objects.exists()


def test_non_staff_get_403_and_nothing_is_recorded(client_for, user):
    response = client_for(user).get(URL)
    assert response.status_code == 403
    assert not AuditEvent.objects.filter(event_type="audit_view").exists()


def test_staff_may_use_a_bearer_token(api_login, staff, client):
    access = api_login(staff)["access"]
    drain_sealer()
    response = client.get(URL, HTTP_AUTHORIZATION=f"Bearer {access}")
    assert response.status_code == 200
    # The page is read before the view is recorded: the newest row is the login.
    assert response.json()["results"][0]["event_type"] == "auth_login"
    view = AuditEvent.objects.get(event_type="audit_view")
    assert view.username == staff.username


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_the_trail_cannot_be_written_through_the_api(staff_client, seeded, method):
    before = list(AuditEvent.objects.order_by("sequence").values_list("id", "hash"))
    response = getattr(staff_client, method)(
        URL, {"event_type": "auth_login"}, content_type="application/json"
    )
    assert response.status_code == 405
    assert list(AuditEvent.objects.order_by("sequence").values_list("id", "hash")) == before


@pytest.mark.parametrize("method", ["post", "delete"])
def test_writes_by_non_staff_or_anonymous_are_refused_before_the_method(
    browser, client_for, user, method
):
    assert getattr(browser, method)(URL).status_code == 401
    assert getattr(client_for(user), method)(URL).status_code == 403


# --- the listing -----------------------------------------------------------


def test_a_result_has_exactly_the_documented_keys_and_values(staff_client, seeded, user):
    response = staff_client.get(URL, {"request_id": "req-login-0001"})
    [row] = response.json()["results"]
    assert set(row) == RESULT_KEYS
    assert row == {
        "id": seeded["login"].pk,
        "sequence": seeded["login"].sequence,
        "timestamp": "2025-01-01T10:00:00.000000Z",
        "event_type": "auth_login",
        "category": "authentication",
        "outcome": "success",
        "user_id": user.pk,
        "username": "alice",
        "ip_address": "198.51.100.1",
        "user_agent": "agent/1",
        "request_id": "req-login-0001",
        "resource_type": "user",
        "resource_id": str(user.pk),
        "message": "",
        "metadata": {"method": "session"},
    }


def test_the_listing_is_newest_first_with_only_cursor_links(staff_client, seeded):
    response = staff_client.get(URL)
    body = response.json()
    assert set(body) == {"next", "previous", "results"}
    assert (body["next"], body["previous"]) == (None, None)
    rows = body["results"]
    # The page is read before this request's audit_view is recorded, so the newest row
    # listed is the test client's staff login, then the seeds.
    assert rows[0]["event_type"] == "auth_login"
    assert [row["id"] for row in rows[1:]] == ids(seeded, *seeded)
    view = AuditEvent.objects.get(event_type="audit_view")
    assert view.request_id == response["X-Request-ID"]


def test_ordering_by_timestamp_gives_oldest_first(staff_client, seeded):
    response = staff_client.get(URL, {"ordering": "timestamp", "until": "2025-12-31T00:00:00Z"})
    rows = response.json()["results"]
    assert [row["id"] for row in rows] == sorted(event.pk for event in seeded.values())
    assert rows[0]["timestamp"] == "2025-01-01T10:00:00.000000Z"
    assert [row["timestamp"] for row in rows] == sorted(row["timestamp"] for row in rows)


def test_the_request_is_recorded_once_as_audit_view(staff_client, seeded, staff, only_event):
    response = staff_client.get(URL, {"event_type": "auth_login", "outcome": "failure"})
    event = only_event(response)
    assert (event.event_type, event.category, event.outcome) == ("audit_view", "audit", "success")
    assert (event.user_id, event.username, event.resource_type) == (
        staff.pk,
        "staffer",
        "audit_log",
    )
    assert (event.ip_address, event.user_agent) == ("203.0.113.7", "pytest-browser/1.0")
    assert event.metadata == {
        "format": "json",
        "filters": {"event_type": "auth_login", "outcome": "failure"},
    }


# --- filters ---------------------------------------------------------------

FILTER_CASES = [
    ({"event_type": "auth_login"}, ["login", "failed"]),
    ({"event_type": "auth_login,auth_logout"}, ["login", "failed", "logout"]),
    ({"event_type": "auth_logout, task_create"}, ["logout", "task"]),
    ({"category": "task"}, ["task"]),
    ({"category": "authentication"}, ["login", "failed", "logout", "refresh"]),
    ({"outcome": "failure"}, ["failed", "refresh"]),
    ({"username": "mallory"}, ["failed"]),
    ({"ip_address": "198.51.100.2"}, ["failed", "refresh"]),
    ({"ip_address": "2001:DB8:0::1"}, ["logout"]),
    ({"ip_address": "::ffff:198.51.100.2"}, ["failed", "refresh"]),
    ({"resource_type": "task"}, ["task"]),
    ({"resource_id": "7c9e6679-7425-40de-944b-e07fc1f90ae7"}, ["task"]),
    ({"request_id": "req-users-0005"}, ["users"]),
    ({"since": "2025-01-03T10:00:00Z", "until": "2025-01-05T10:00:00Z"}, ["logout", "task"]),
    ({"since": "2025-01-06T10:00:00+00:00", "event_type": "auth_token_refresh"}, ["refresh"]),
    ({"until": "2025-01-02T10:00:00Z"}, ["login"]),
    ({"since": "2025-01-02T11:00:00+01:00", "until": "2025-01-03"}, ["failed"]),
    ({"event_type": "auth_login", "outcome": "success"}, ["login"]),
]


@pytest.mark.parametrize(("params", "expected"), FILTER_CASES)
def test_each_filter_selects_exactly_the_matching_rows(staff_client, seeded, params, expected):
    assert listed(staff_client.get(URL, params), seeded) == ids(seeded, *expected)


def test_user_id_filters_by_user(staff_client, seeded, user, staff):
    response = staff_client.get(URL, {"user_id": user.pk})
    assert [row["id"] for row in response.json()["results"]] == ids(
        seeded, "login", "logout", "task"
    )
    response = staff_client.get(URL, {"user_id": staff.pk})
    rows = response.json()["results"]
    assert {row["user_id"] for row in rows} == {staff.pk}
    assert listed(response, seeded) == ids(seeded, "users")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("event_type", "junk"),
        ("event_type", "auth_login,junk"),
        ("event_type", "auth_login' OR '1'='1"),
        ("category", "nope"),
        ("outcome", "maybe"),
        ("user_id", "abc"),
        ("user_id", "1.5"),
        ("user_id", "0"),
        ("user_id", "1 OR 1=1"),
        ("ip_address", "999.1.1.1"),
        ("ip_address", "198.51.100.1' OR '1'='1"),
        ("since", "yesterday"),
        ("until", "2025-13-45T00:00:00Z"),
        ("since", "2025-01-01'; DROP TABLE audit_auditevent; --"),
        ("username", "x" * 151),
        ("resource_type", "x" * 21),
        # PostgreSQL cannot store or compare NUL; the form must refuse it first.
        ("username", "alice\x00"),
    ],
)
def test_bad_filter_values_get_400_naming_the_field(staff_client, seeded, events_for, field, value):
    for fmt in ("json", "csv"):
        response = staff_client.get(URL, {field: value, "format": fmt})
        assert response.status_code == 400, (fmt, response.content)
        assert field in response.json()
        # A refused query is not a view of the trail.
        assert events_for(response) == []
    assert not AuditEvent.objects.filter(category="audit").exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("username", "' OR '1'='1"),
        ("username", "alice'; DELETE FROM audit_auditevent; --"),
        ("resource_id", "1 OR 1=1"),
        ("request_id", '" OR ""="'),
    ],
)
def test_sql_looking_text_is_just_text(staff_client, seeded, field, value):
    response = staff_client.get(URL, {field: value})
    assert response.status_code == 200
    assert response.json()["results"] == []
    assert AuditEvent.objects.filter(pk__in=[e.pk for e in seeded.values()]).count() == 6


# --- pagination ------------------------------------------------------------


def walk(client, url, params):
    """Follow `next` links from the first page to the last; return each page's ids.

    Newest first the last page has no `next`; oldest first it has the tail cursor
    (test_poll_cursor.py), and the last page is the one shorter than page_size.
    """
    pages = []
    response = client.get(url, params)
    while True:
        body = response.json()
        assert set(body) == {"next", "previous", "results"}
        pages.append([row["id"] for row in body["results"]])
        if body["next"] is None or len(body["results"]) < params["page_size"]:
            return pages, body
        response = client.get(body["next"])


@pytest.mark.parametrize("ordering", [None, "timestamp"])
def test_cursor_pagination_walks_every_row_once_both_ways(staff_client, ordering):
    logins = [record_event(event_type="auth_lockout", username=f"u{n}") for n in range(25)]
    params = {"event_type": "auth_lockout", "page_size": 10}
    if ordering:
        params["ordering"] = ordering
    drain_sealer()
    pages, last = walk(staff_client, URL, params)
    assert [len(page) for page in pages] == [10, 10, 5]
    # Newest first the walk ends; oldest first the last page points at the tail.
    assert (last["next"] is None) == (ordering is None)
    flat = [pk for page in pages for pk in page]
    assert len(set(flat)) == len(flat) == 25
    newest_first = [event.pk for event in reversed(logins)]
    assert flat == (newest_first[::-1] if ordering else newest_first)
    # And back again with `previous`, page by page.
    back = []
    while last["previous"] is not None:
        last = staff_client.get(last["previous"]).json()
        back.append([row["id"] for row in last["results"]])
    assert back == pages[-2::-1]


def test_a_smaller_page_size_can_be_asked_for(staff_client):
    for n in range(5):
        record_event(event_type="auth_lockout", username=f"u{n}")
    drain_sealer()
    response = staff_client.get(URL, {"event_type": "auth_lockout", "page_size": 2})
    assert [row["username"] for row in response.json()["results"]] == ["u4", "u3"]
    assert response.json()["next"] is not None


# --- exports ---------------------------------------------------------------


def body_of(response) -> str:
    assert isinstance(response, StreamingHttpResponse)
    return response.getvalue().decode("utf-8")


@pytest.fixture
def many(staff_client):
    """150 more failed logins, beyond one page of the JSON listing."""
    return sealed(
        record_event(
            event_type="auth_login",
            outcome="failure",
            username=f"guess{n}",
            client=ClientContext("198.51.100.50", "bot/1", f"req-bulk-{n:04d}"),
        )
        for n in range(150)
    )


def test_csv_export_streams_every_filtered_row(staff_client, many, seeded, only_event):
    response = staff_client.get(URL, {"format": "csv", "outcome": "failure"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith('attachment; filename="audit-')
    assert response["Content-Disposition"].endswith('.csv"')
    rows = list(csv.DictReader(io.StringIO(body_of(response))))
    assert tuple(rows[0]) == EXPORT_COLUMNS
    expected = {event.pk for event in many} | {seeded["failed"].pk, seeded["refresh"].pk}
    assert [int(row["id"]) for row in rows] == sorted(expected, reverse=True)
    first = rows[-1]
    assert (first["event_type"], first["username"], first["ip_address"]) == (
        "auth_login",
        "mallory",
        "198.51.100.2",
    )
    # One audit_export event for the whole download, not one per row.
    event = only_event(response)
    assert (event.event_type, event.category) == ("audit_export", "audit")
    assert event.metadata == {"format": "csv", "filters": {"outcome": "failure"}}


def test_ndjson_export_streams_every_filtered_row(staff_client, many, seeded, only_event):
    response = staff_client.get(
        URL, {"format": "ndjson", "event_type": "auth_login", "outcome": "failure"}
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "application/x-ndjson"
    assert response["Content-Disposition"].endswith('.ndjson"')
    documents = [json.loads(line) for line in body_of(response).splitlines()]
    expected = {event.pk for event in many} | {seeded["failed"].pk}
    assert [document["id"] for document in documents] == sorted(expected, reverse=True)
    assert set(documents[-1]) == set(NDJSON_FIELDS)
    assert (documents[-1]["username"], documents[-1]["timestamp"]) == (
        "mallory",
        "2025-01-02T10:00:00.000000Z",
    )
    assert only_event(response).metadata == {
        "format": "ndjson",
        "filters": {"event_type": "auth_login", "outcome": "failure"},
    }


def test_exports_honour_oldest_first_ordering(staff_client, seeded):
    response = staff_client.get(
        URL, {"format": "ndjson", "ordering": "timestamp", "until": "2025-12-31T00:00:00Z"}
    )
    documents = [json.loads(line) for line in body_of(response).splitlines()]
    assert [document["id"] for document in documents] == sorted(e.pk for e in seeded.values())


@pytest.mark.parametrize("dangerous", ['=HYPERLINK("http://evil")', "+1+1", "-2+3", "@SUM(A1)"])
def test_csv_cells_cannot_become_formulas(staff_client, dangerous):
    record_event(
        event_type="auth_login",
        outcome="failure",
        username=dangerous,
        client=ClientContext("198.51.100.9", dangerous, "req-formula-1"),
        message=dangerous,
    )
    drain_sealer()
    response = staff_client.get(URL, {"format": "csv", "request_id": "req-formula-1"})
    [row] = list(csv.DictReader(io.StringIO(body_of(response))))
    for column in ("username", "user_agent", "message"):
        assert row[column] == "'" + dangerous
    # NDJSON is not opened by spreadsheets: the value stays exact there.
    response = staff_client.get(URL, {"format": "ndjson", "request_id": "req-formula-1"})
    [document] = [json.loads(line) for line in body_of(response).splitlines()]
    assert document["username"] == dangerous


def test_ndjson_has_one_line_per_event_whatever_the_text(staff_client):
    # Line and paragraph separators split a line for splitlines() and many editors.
    for name in ("line\u2028break", "para\u2029break", "nel\x85break", "lf\nbreak"):
        record_event(event_type="auth_lockout", username=name)
    drain_sealer()
    response = staff_client.get(URL, {"format": "ndjson", "event_type": "auth_lockout"})
    lines = body_of(response).splitlines()
    assert len(lines) == 4
    assert [json.loads(line)["username"] for line in lines] == [
        "lf\\u000abreak",
        "nel\\u0085break",
        "para\\u2029break",
        "line\\u2028break",
    ]
