"""The audit list's after_sequence and format parameters, as the schema declares them."""

import pytest

from audit.models import AuditEvent
from audit.services import record_event
from audit.tests.fixtures import drain_sealer

pytestmark = pytest.mark.django_db
URL = "/api/v2/admin/audit-logs"


def test_after_sequence_lists_only_later_events_and_nothing_at_the_tail(staff_client):
    for n in range(3):
        record_event(event_type="auth_logout", metadata={"n": n})
    drain_sealer()
    last = AuditEvent.objects.order_by("-sequence").values_list("sequence", flat=True)[0]

    response = staff_client.get(URL, {"after_sequence": last - 2, "ordering": "timestamp"})
    assert response.status_code == 200
    assert [e["sequence"] for e in response.json()["results"]] == [last - 1, last]

    # At the tail: nothing yet (the listing itself is recorded, after the read).
    tail = staff_client.get(URL, {"after_sequence": last + 1})
    assert tail.status_code == 200
    assert tail.json()["results"] == []


@pytest.mark.parametrize("value", ["-1", "abc", "1.5", ""])
def test_a_bad_after_sequence_is_a_400_naming_it(staff_client, value):
    response = staff_client.get(URL, {"after_sequence": value})
    assert response.status_code == 400
    assert "after_sequence" in response.json()


def test_an_empty_format_is_a_400_naming_it(staff_client):
    # The schema's enum of formats has no empty one; DRF alone would answer JSON.
    response = staff_client.get(URL, {"format": ""})
    assert response.status_code == 400
    assert "format" in response.json()


def test_pages_are_linked_in_a_link_header_as_in_the_body(staff_client):
    for n in range(3):
        record_event(event_type="auth_logout", metadata={"n": n})
    drain_sealer()

    first = staff_client.get(URL, {"page_size": 2})
    body = first.json()
    assert first["Link"] == f'<{body["next"]}>; rel="next"'

    second = staff_client.get(body["next"])
    links = {
        rel.split('"')[1]: url.strip().strip("<>")
        for url, rel in (part.split(";") for part in second["Link"].split(", "))
    }
    assert links["prev"] == second.json()["previous"]
    assert links.get("next") == second.json()["next"]
