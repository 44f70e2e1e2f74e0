"""Exports rendered from the database's own text say exactly what the recorded events say."""

import csv
import io
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.db.models import DateTimeField, Value
from django.utils import formats, translation
from django.utils import timezone as django_timezone

from audit.api.export import NDJSON_COLUMNS, csv_lines, ndjson_lines, rows
from audit.chain import canonical_timestamp
from audit.expressions import CanonicalTimestampText
from audit.models import AuditEvent
from audit.recording.client import ClientContext
from audit.services import record_event
from audit.tests.fixtures import sealed
from audit.tests.tamper import raw_sql
from audit.tests.test_api import stamped
from audit.timestamps import display_timestamp, utc_text

URL = "/api/v2/admin/audit-logs"

AWKWARD_METADATA = {
    "filename": '東京 "scan" \\ report.pdf',
    "pages": [1, 2, {"nested": "ünïcödé", "ok": True, "none": None}],
    "ratio": 1.5,
    "count": 12,
    "empty": {},
}


@pytest.fixture
def awkward(user):
    """Events whose every exported column has something to get wrong."""
    with stamped(
        [
            datetime(2025, 3, 1, 0, 0, 0, tzinfo=UTC),  # no fraction: stored without one
            datetime(2025, 3, 1, 23, 59, 59, 999999, tzinfo=UTC),
            datetime(2025, 3, 2, 8, 30, 0, 120, tzinfo=UTC),
        ]
    ):
        return [
            record_event(
                event_type="file_upload",
                user=user,
                client=ClientContext("2001:db8::7", 'agent "quoted" \\ 1', "req-awkward-1"),
                resource_type="task",
                resource_id="3f2c",
                message="Uploaded 東京.pdf, 2 pages",
                metadata=AWKWARD_METADATA,
            ),
            record_event(
                event_type="auth_login",
                outcome="failure",
                username="=cmd|' /C calc'!A0",
                client=ClientContext(None, "", "req-awkward-2"),
                message="-1+1",
            ),
            record_event(event_type="auth_logout", user=user, metadata={"scope": "all"}),
        ]


def ndjson_of(queryset) -> str:
    return "".join(ndjson_lines(rows(queryset, columns=NDJSON_COLUMNS)))


def expected_document(event: AuditEvent) -> dict:
    """Return what the export must say of an event, built from the model in Python."""
    event.refresh_from_db()  # the metadata as the database gives it back
    document = {name: getattr(event, "pk" if name == "id" else name) for name in NDJSON_COLUMNS}
    document["timestamp"] = canonical_timestamp(event.timestamp)
    document["leaf_index"] = event.sequence - 1  # type: ignore[operator]  # sealed
    return document


@pytest.mark.django_db
def test_the_database_renders_timestamps_as_canonical_timestamp_writes_them(awkward):
    rendered = dict(
        AuditEvent.objects.annotate(text=CanonicalTimestampText("timestamp")).values_list(
            "pk", "text"
        )
    )
    for event in awkward:
        assert rendered[event.pk] == canonical_timestamp(event.timestamp)
    assert rendered[awkward[0].pk] == "2025-03-01T00:00:00.000000Z"
    assert rendered[awkward[2].pk] == "2025-03-02T08:30:00.000120Z"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 11, 27, 5, 7, 11, 134054, tzinfo=UTC),
        datetime(2026, 1, 1, tzinfo=UTC),
        datetime(2026, 6, 1, 12, 0, 0, 7, tzinfo=timezone(timedelta(hours=-5))),
        datetime(999, 1, 2, 3, 4, 5, tzinfo=UTC),  # canonical_timestamp leaves it unpadded
        datetime(1, 1, 1, 0, 0, 0, 1, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    ],
)
def test_the_database_renders_any_moment_as_canonical_timestamp_does(awkward, moment):
    rendered = (
        AuditEvent.objects.annotate(
            text=CanonicalTimestampText(Value(moment, output_field=DateTimeField()))
        )
        .values_list("text", flat=True)
        .first()
    )
    assert rendered == canonical_timestamp(moment)


@pytest.mark.django_db
def test_each_ndjson_line_is_what_json_dumps_writes_for_the_event(awkward):
    queryset = AuditEvent.objects.filter(pk__in=[e.pk for e in awkward]).order_by("sequence")
    lines = "".join(ndjson_lines(rows(queryset, columns=NDJSON_COLUMNS))).splitlines(keepends=True)
    assert len(lines) == 3
    for line, event in zip(lines, awkward, strict=True):
        expected = expected_document(event)
        assert json.loads(line) == expected
        # Byte for byte too (no float here whose text differs between JSON writers).
        assert line == json.dumps(expected, ensure_ascii=False) + "\n"
    assert "東京" in lines[0]
    assert '"ip_address": null' in lines[1]


@pytest.mark.django_db
def test_csv_cells_hold_the_event_with_readable_metadata(awkward):
    queryset = AuditEvent.objects.filter(pk__in=[e.pk for e in awkward]).order_by("sequence")
    table = list(csv.DictReader(io.StringIO("".join(csv_lines(rows(queryset))))))
    upload, refused, logout = table
    assert json.loads(upload["metadata"]) == AWKWARD_METADATA
    # Characters, not \uXXXX escapes, whatever the database stored.
    assert "東京" in upload["metadata"] and "\\u" not in upload["metadata"]
    assert upload["user_agent"] == 'agent "quoted" \\ 1'
    # As the pages show it, in UTC; NDJSON keeps the canonical text.
    assert upload["timestamp"] == "2025-03-01 00:00:00 UTC"
    assert refused["timestamp"] == "2025-03-01 23:59:59 UTC"
    assert (refused["ip_address"], refused["user_id"]) == ("", "")
    assert refused["username"] == "'=cmd|' /C calc'!A0"
    assert refused["message"] == "'-1+1"
    assert json.loads(logout["metadata"]) == {"scope": "all"}
    assert int(logout["id"]) == awkward[2].pk


@pytest.mark.django_db
def test_the_api_export_agrees_with_the_api_listing(awkward, client_for, staff):
    client = client_for(staff)
    listing = client.get(URL, {"request_id": "req-awkward-1"}).json()["results"]
    response = client.get(URL, {"format": "ndjson", "request_id": "req-awkward-1"})
    [document] = [json.loads(line) for line in b"".join(response.streaming_content).splitlines()]
    [listed] = listing
    # What rebuilds the event's Merkle leaf is the export's own (the listing shows no links).
    prev_hash, leaf_index = document.pop("prev_hash"), document.pop("leaf_index")
    assert document == listed  # timestamps too, byte for byte
    assert leaf_index == listed["sequence"] - 1
    assert prev_hash == AuditEvent.objects.get(pk=listed["id"]).prev_hash


@pytest.mark.django_db
def test_metadata_numbers_keep_their_values(user):
    metadata = {"tiny": 1e-7, "huge": 1e300, "third": 1 / 3, "negative": -2.5, "big": 2**53}
    [event] = sealed([record_event(event_type="task_complete", user=user, metadata=metadata)])
    [line] = "".join(
        ndjson_lines(rows(AuditEvent.objects.filter(pk=event.pk), columns=NDJSON_COLUMNS))
    ).splitlines()
    assert json.loads(line)["metadata"] == metadata


@pytest.mark.django_db
def test_a_timestamp_written_by_hand_in_another_spelling_exports_as_django_reads_it(awkward):
    # SQLite keeps the text a DBA wrote; the export still gives the canonical instant.
    event = awkward[1]
    spelled = "2025-03-02T01:59:59.999999+02:00"
    raw_sql("UPDATE {table} SET timestamp = %s WHERE sequence = %s", [spelled, event.sequence])
    [line] = "".join(
        ndjson_lines(rows(AuditEvent.objects.filter(pk=event.pk), columns=NDJSON_COLUMNS))
    ).splitlines()
    assert json.loads(line)["timestamp"] == "2025-03-01T23:59:59.999999Z"


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 11, 27, 14, 47, 5, 134054, tzinfo=UTC),
        datetime(2026, 1, 1, tzinfo=UTC),
        datetime(2026, 6, 1, 12, 0, 0, 7, tzinfo=timezone(timedelta(hours=-5))),
        datetime(999, 1, 2, 3, 4, 5, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    ],
)
@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_csv_timestamps_are_display_timestamp_in_utc(moment, language):
    with translation.override(language), django_timezone.override(UTC):
        expected = display_timestamp(moment)
        assert utc_text()(canonical_timestamp(moment)) == expected
    assert expected.endswith(" UTC") and expected.count(":") == 2


def test_a_format_the_template_cannot_mimic_falls_back_to_display_timestamp(settings):
    settings.FORMAT_MODULE_PATH = None
    formats.reset_format_cache()  # Django resets it for format settings, not for this one
    moment = datetime(2026, 11, 27, 14, 47, 5, tzinfo=UTC)
    with translation.override("en"), django_timezone.override(UTC):
        # Django's own English format: "Nov. 27, 2026, 2:47 p.m.", month names, 12 hours.
        assert "p.m." in display_timestamp(moment)
        assert utc_text()(canonical_timestamp(moment)) == display_timestamp(moment)
    formats.reset_format_cache()
