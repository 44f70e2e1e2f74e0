"""The audit changelist answers from indexes: no DISTINCT scans, no OFFSET on deep pages."""

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.models import AuditEvent, period_starts
from audit.services import record_event

URL = "/admin/audit/auditevent/"


@pytest.fixture
def events(db, monkeypatch):
    # Requested before admin_client in each test: timestamps never run backwards along
    # the chain, so these must be recorded before the (real-time) admin login.
    """Seven events spread over three months of two years."""
    stamps = [
        datetime(2025, 12, 30, 10, tzinfo=UTC),
        datetime(2026, 1, 5, 9, tzinfo=UTC),
        datetime(2026, 1, 5, 23, tzinfo=UTC),
        datetime(2026, 1, 20, 8, tzinfo=UTC),
        datetime(2026, 3, 1, 0, tzinfo=UTC),
        datetime(2026, 3, 31, 23, 59, tzinfo=UTC),
        datetime(2026, 3, 31, 23, 59, 30, tzinfo=UTC),
    ]
    clock = iter(stamps)
    monkeypatch.setattr("audit.services.timezone.now", lambda: next(clock))
    for number in range(len(stamps)):
        record_event(event_type="auth_login", username=f"user{number}", resource_type="user")
    monkeypatch.undo()
    return stamps


def test_period_starts_match_djangos_distinct_dates(events):
    queryset = AuditEvent.objects.all()
    for kind in ("year", "month", "day"):
        expected = list(AuditEvent.objects.all().order_by().values_list("timestamp", flat=True))
        truncated = sorted({truncate(stamp, kind) for stamp in expected})
        assert period_starts(queryset, kind=kind, descending=False, tz=UTC) == truncated


def truncate(stamp: datetime, kind: str) -> datetime:
    stamp = stamp.replace(hour=0, minute=0, second=0, microsecond=0)
    if kind in ("month", "year"):
        stamp = stamp.replace(day=1)
    if kind == "year":
        stamp = stamp.replace(month=1)
    return stamp


def test_date_hierarchy_links_come_without_a_distinct_scan(events, admin_client):
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(URL, {"timestamp__year": "2026"})

    assert response.status_code == 200
    text = response.content.decode()
    assert "timestamp__month=1" in text and "timestamp__month=3" in text
    assert "timestamp__month=2" not in text  # no events in February
    assert not [q for q in queries.captured_queries if "DISTINCT" in q["sql"].upper()]


def test_event_type_filter_lists_the_vocabulary_without_querying(events, admin_client):
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(URL)

    assert "event_type__exact=auth_lockout" in response.content.decode()
    assert not [q for q in queries.captured_queries if "DISTINCT" in q["sql"].upper()]
    assert not [q for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]


def test_deep_pages_of_the_whole_chain_seek_by_sequence(events, admin_client, monkeypatch):
    monkeypatch.setattr("audit.admin.AuditEventAdmin.list_per_page", 2)
    admin_client.get("/admin/")  # log in (recorded) before counting what is there
    newest_first = list(AuditEvent.objects.order_by("-sequence").values_list("sequence", flat=True))

    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(URL, {"p": "3"})

    shown = [event.sequence for event in response.context["cl"].result_list]
    assert shown == newest_first[4:6]
    assert not [q for q in queries.captured_queries if " OFFSET " in q["sql"].upper()]


def test_search_is_exact_and_finds_each_kind_of_key(events, admin_client):
    event = AuditEvent.objects.get(username="user2")

    by_name = admin_client.get(URL, {"q": "user2"}).context["cl"].result_list
    by_request = admin_client.get(URL, {"q": event.request_id or "none"}).context["cl"]
    partial = admin_client.get(URL, {"q": "user"}).context["cl"].result_list

    assert [row.pk for row in by_name] == [event.pk]
    assert by_request.result_list is not None
    assert list(partial) == []
