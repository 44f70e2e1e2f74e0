"""The audit trail's tail cursor: oldest first, `next` is never null, so a poller keeps it.

As with Okta's System Log: follow `next` to the last page, keep the last `next`, call it
again later and get exactly what was sealed since, neither a duplicate nor a gap.
"""

from base64 import b64decode
from urllib.parse import parse_qs, urlsplit

import pytest

from audit.models import AuditEvent
from audit.sealing.batches import seal_pending
from audit.services import record_event
from audit.tests.fixtures import drain_sealer, sealed

pytestmark = pytest.mark.django_db
URL = "/api/v2/admin/audit-logs"
# Lockouts only: each read of the trail is itself an audit_view event, which a filter
# keeps out of what these tests count.
LOCKOUTS = {"event_type": "auth_lockout", "ordering": "timestamp", "page_size": 2}


def lockouts(*names: str) -> list[AuditEvent]:
    """Record lockouts and run the sealer's round: listed from the next poll on."""
    return sealed([record_event(event_type="auth_lockout", username=name) for name in names])


def page(client, url_or_params):
    if isinstance(url_or_params, str):
        response = client.get(url_or_params)
    else:
        response = client.get(URL, url_or_params)
    assert response.status_code == 200, response.content
    return response, response.json()


def position_of(url: str) -> str:
    """The sequence a cursor URL continues after (DRF's cursor is base64 of p=...)."""
    cursor = parse_qs(urlsplit(url).query)["cursor"][0]
    return parse_qs(b64decode(cursor).decode())["p"][0]


def test_the_last_page_oldest_first_points_after_its_last_event(staff_client):
    events = lockouts("a", "b", "c")

    _, first = page(staff_client, LOCKOUTS)
    response, last = page(staff_client, first["next"])

    assert [row["username"] for row in last["results"]] == ["c"]
    assert last["next"] is not None
    assert position_of(last["next"]) == str(events[-1].sequence)
    # The Link header carries it too, for pollers that follow headers.
    assert f'<{last["next"]}>; rel="next"' in response["Link"]


def test_the_tail_cursor_returns_nothing_then_exactly_what_is_new(staff_client):
    lockouts("a", "b")
    _, body = page(staff_client, LOCKOUTS)
    tail = body["next"]

    # Nothing new: an empty page whose `next` is the same place again.
    _, empty = page(staff_client, tail)
    assert empty["results"] == []
    assert position_of(empty["next"]) == position_of(tail)

    new = lockouts("c", "d", "e")
    _, first = page(staff_client, empty["next"])
    _, second = page(staff_client, first["next"])
    seen = [row["username"] for row in first["results"] + second["results"]]
    assert seen == ["c", "d", "e"]
    assert position_of(second["next"]) == str(new[-1].sequence)

    _, after = page(staff_client, second["next"])
    assert after["results"] == []


def test_newest_first_still_ends_with_a_null_next(staff_client):
    lockouts("a", "b", "c")
    params = {**LOCKOUTS, "ordering": "-timestamp"}
    _, first = page(staff_client, params)
    response, last = page(staff_client, first["next"])
    assert [row["username"] for row in last["results"]] == ["a"]
    assert last["next"] is None
    assert 'rel="next"' not in response.get("Link", "")


def test_a_listing_that_matched_nothing_yet_points_at_every_later_match(staff_client):
    _, body = page(staff_client, LOCKOUTS)
    assert body["results"] == []
    assert body["next"] is not None

    lockouts("a")
    _, later = page(staff_client, body["next"])
    assert [row["username"] for row in later["results"]] == ["a"]


def test_the_tail_cursor_keeps_the_filters_of_the_listing(staff_client):
    lockouts("a")
    _, body = page(staff_client, LOCKOUTS)
    record_event(event_type="auth_logout", username="not-a-lockout")
    lockouts("b")
    _, later = page(staff_client, body["next"])
    assert [row["username"] for row in later["results"]] == ["b"]


def test_every_read_of_the_trail_is_seen_by_the_next_poll(staff_client):
    """Unfiltered, each poll's own audit_view is what the next poll finds: the trail is
    honest about its readers, and a poller that wants less filters by event_type."""
    drain_sealer()  # the staff login, linked before the first poll
    _, body = page(staff_client, {"ordering": "timestamp", "page_size": 1000})
    drain_sealer()  # the sealer's round between two polls
    _, again = page(staff_client, body["next"])
    assert [row["event_type"] for row in again["results"]] == ["audit_view"]


def test_events_sealed_later_by_the_background_sealer_are_not_skipped(settings, staff_client):
    lockouts("a")
    _, body = page(staff_client, LOCKOUTS)

    record_event(event_type="auth_lockout", username="b")
    record_event(event_type="auth_lockout", username="c")
    # Recorded but not sealed yet: not listed, and the cursor stays where it was.
    _, pending = page(staff_client, body["next"])
    assert pending["results"] == []

    seal_pending()
    _, sealed = page(staff_client, pending["next"])
    assert [row["username"] for row in sealed["results"]] == ["b", "c"]


def test_a_forged_tail_cursor_is_a_400_naming_it(staff_client):
    _, body = page(staff_client, LOCKOUTS)
    forged = body["next"].replace(urlsplit(body["next"]).query, "cursor=cD0tMQ%3D%3D")  # p=-1
    response = staff_client.get(forged)
    assert response.status_code == 400
    assert "cursor" in response.json()
