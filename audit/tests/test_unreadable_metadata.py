"""A sealed event whose stored metadata Python's json cannot read: every page still answers.

Written straight to the database, as an attacker with SQL access would (the model
guards bypassed, triggers off on PostgreSQL): a number of 5,000 digits (both databases
take it as JSON, Python's int() stops at 4,300) or, on PostgreSQL, nesting 10,000 deep
(a RecursionError). The sealer refuses such an unsealed row and verification names a
sealed one (the tamper matrix); the staff pages, the API and its exports show it as
unreadable instead of answering 500.
"""

import pytest
from django.db import connection

from audit.models import AuditEvent
from audit.services import record_event
from audit.tests.fixtures import drain_sealer
from audit.tests.tamper import UNREADABLE_JSON, raw_sql

DEEP_JSON = '{"n": ' + "[" * 10_000 + "]" * 10_000 + "}"
TEXTS = [
    pytest.param(UNREADABLE_JSON, id="5000-digit number"),
    # Where the dashboard sums a task's seconds and pages in SQL.
    pytest.param('{"seconds": ' + "9" * 5000 + ', "pages": ' + "9" * 5000 + "}", id="summed"),
]
if connection.vendor == "postgresql":
    # SQLite's JSON functions stop at 1,000 levels: its CHECK refuses this one.
    TEXTS.append(pytest.param(DEEP_JSON, id="nested 10000 deep"))


@pytest.fixture(params=TEXTS)
def unreadable(request, db, user):
    """Return a sealed task_complete event whose metadata was then overwritten in SQL."""
    record_event(event_type="auth_login", user=user)
    event = record_event(
        event_type="task_complete",
        user=user,
        resource_type="task",
        resource_id=1,
        metadata={"seconds": 1.5, "pages": 2},
    )
    drain_sealer()
    raw_sql("UPDATE {table} SET metadata = %s WHERE id = %s", [request.param, event.pk])
    return event


def test_the_model_reads_it_as_unreadable(unreadable):
    metadata = AuditEvent.objects.get(pk=unreadable.pk).metadata
    assert metadata == {"unreadable_metadata": "stored metadata that Python's json cannot read"}


@pytest.mark.parametrize(
    "url",
    [
        "/admin/audit/auditevent/",
        "/admin/audit/auditevent/?q=alice",
        "/admin/dashboard/",
        "/api/v2/admin/audit-logs",
        "/api/v2/admin/audit-logs?event_type=task_complete",
    ],
)
def test_the_pages_and_the_api_answer(unreadable, staff_client, url):
    response = staff_client.get(url)
    assert response.status_code == 200, response.content[:500]


def test_the_change_page_shows_it_as_unreadable(unreadable, staff_client):
    response = staff_client.get(f"/admin/audit/auditevent/{unreadable.pk}/change/")
    assert response.status_code == 200
    assert b"stored metadata that Python&#x27;s json cannot read" in response.content


def test_the_api_listing_shows_it_as_unreadable(unreadable, staff_client):
    results = staff_client.get("/api/v2/admin/audit-logs").json()["results"]
    shown = next(row for row in results if row["id"] == unreadable.pk)
    assert shown["metadata"] == {
        "unreadable_metadata": "stored metadata that Python's json cannot read"
    }


@pytest.mark.parametrize("format", ["ndjson", "csv", "ocsf", "json"])
def test_every_export_format_streams_to_the_end(unreadable, staff_client, format):
    response = staff_client.get(f"/api/v2/admin/audit-logs?format={format}&ordering=timestamp")
    assert response.status_code == 200
    body = b"".join(response.streaming_content) if response.streaming else response.content
    assert b"task_complete" in body
    if format in ("ndjson", "ocsf"):
        lines = body.decode().splitlines()
        # Every event (the export's own included), one line each, the unreadable one too.
        assert len(lines) == AuditEvent.objects.filter(sequence__isnull=False).count()
        assert all(line.startswith("{") and line.endswith("}") for line in lines)
