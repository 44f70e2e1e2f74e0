"""One timestamp format for people (pages, admin, dashboard, CSV), ISO 8601 "Z" for machines."""

import csv
import io
import re
from datetime import UTC, datetime

import pytest

from audit.services import record_event
from audit.tests.fixtures import drain_sealer
from audit.tests.test_api import stamped
from audit.verification.checkpoints import create_checkpoint

pytestmark = pytest.mark.django_db

# "2026-11-27 14:47:05 UTC": seconds, and the zone stated.
SHOWN = r"\d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d {zone}"
# "2026-11-27T14:47:05.134054Z": the chain's canonical form.
MACHINE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")
ISO_WITH_MICROSECONDS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}")


@pytest.fixture
def display_zone(settings, request):
    settings.TIME_ZONE = request.param
    return request.param


@pytest.mark.parametrize(
    ("display_zone", "zone"), [("UTC", "UTC"), ("Asia/Shanghai", "CST")], indirect=["display_zone"]
)
def test_pages_admin_and_dashboard_show_seconds_and_the_zone(
    display_zone, zone, user, make_user, client_for, make_task_row
):
    boss = make_user(superuser=True)
    make_task_row(user)
    record_event(event_type="auth_logout", user=user)
    drain_sealer()
    create_checkpoint()  # the dashboard's chain verdict names it and its time
    shown = re.compile(SHOWN.format(zone=zone))
    surfaces = {
        "task list": client_for(user).get("/"),
        "audit admin": client_for(boss).get("/admin/audit/auditevent/"),
        "task admin": client_for(boss).get("/admin/tasks/ocrtask/"),
        "dashboard": client_for(boss).get("/admin/dashboard/"),
    }
    for surface, response in surfaces.items():
        assert response.status_code == 200, surface
        body = response.content.decode()
        assert shown.search(body), f"{surface} shows no '{shown.pattern}' timestamp"
        # Not Django's defaults ("Nov. 27, 2026, 2:50 p.m.") nor minutes only, and the
        # machines' ISO form only in <time datetime="..."> attributes, never as text.
        text = re.sub(r"<[^>]*>", " ", body)
        assert not re.search(r"\b[ap]\.m\.", text), surface
        assert not re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d(?!:)", text), surface
        assert not ISO_WITH_MICROSECONDS.search(text), surface


def test_the_csv_export_shows_the_same_format_in_utc(user, make_user, client_for, settings):
    settings.TIME_ZONE = "Asia/Shanghai"
    with stamped(
        [
            datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),  # stored without a fraction
            datetime(2026, 11, 27, 14, 47, 5, 134054, tzinfo=UTC),
        ]
    ):
        record_event(event_type="auth_logout", user=user, message="first")
        record_event(event_type="auth_logout", user=user, message="second")
    response = client_for(make_user(superuser=True)).get(
        "/api/v2/admin/audit-logs", {"format": "csv", "event_type": "auth_logout"}
    )
    assert response.status_code == 200
    table = csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode()))
    stamps = {row["message"]: row["timestamp"] for row in table}
    assert stamps == {"first": "2026-01-02 03:04:05 UTC", "second": "2026-11-27 14:47:05 UTC"}


def test_the_api_and_ndjson_give_utc_with_z_whatever_the_display_zone(
    user, make_user, client_for, make_task_row, settings
):
    settings.TIME_ZONE = "Asia/Shanghai"
    make_task_row(user)
    record_event(event_type="auth_logout", user=user)
    drain_sealer()
    boss = client_for(make_user(superuser=True))

    [task] = client_for(user).get("/api/v2/tasks").json()["results"]
    [event] = boss.get("/api/v2/admin/audit-logs", {"event_type": "auth_logout"}).json()["results"]
    [account] = [
        row
        for row in boss.get("/api/v2/admin/users").json()["results"]
        if row["username"] == user.username
    ]
    ndjson = boss.get("/api/v2/admin/audit-logs", {"format": "ndjson", "event_type": "auth_logout"})
    line = b"".join(ndjson.streaming_content).decode()

    assert MACHINE.fullmatch(task["created_at"])
    assert MACHINE.fullmatch(event["timestamp"])
    assert MACHINE.fullmatch(account["date_joined"])
    assert f'"timestamp": "{event["timestamp"]}"' in line
