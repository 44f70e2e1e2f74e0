"""The audit log by client address: an address, a prefix or a CIDR range, both databases."""

import pytest

from audit.recording.client import ClientContext
from audit.services import record_event
from audit.tests.fixtures import drain_sealer

API = "/api/v2/admin/audit-logs"
CHANGELIST = "/admin/audit/auditevent/"

ADDRESSES = [
    "10.1.2.3",
    "10.1.200.9",
    "10.2.0.1",
    "10.10.0.1",
    "192.168.0.1",
    "2001:db8::1",
    "2001:db8:0:1::5",
    "2001:db9::1",
]


@pytest.fixture
def addressed_events(db):
    for number, address in enumerate(ADDRESSES):
        record_event(
            event_type="auth_login",
            username=f"who{number}",
            client=ClientContext(address, "agent/1", f"req-{number}"),
        )
    drain_sealer()


def addresses(response) -> list[str]:
    assert response.status_code == 200, response.content
    return sorted(row["ip_address"] for row in response.json()["results"])


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("10.1.2.3", ["10.1.2.3"]),
        ("::ffff:10.1.2.3", ["10.1.2.3"]),
        ("10.1.", ["10.1.2.3", "10.1.200.9"]),
        # A prefix is whole octets: "10.1." is not "10.10.".
        ("10.", ["10.1.2.3", "10.1.200.9", "10.10.0.1", "10.2.0.1"]),
        ("10.1.0.0/16", ["10.1.2.3", "10.1.200.9"]),
        ("10.1.128.0/17", ["10.1.200.9"]),
        ("10.0.0.0/12", ["10.1.2.3", "10.1.200.9", "10.10.0.1", "10.2.0.1"]),
        ("10.1.2.3/16", ["10.1.2.3", "10.1.200.9"]),
        ("2001:db8::/32", ["2001:db8:0:1::5", "2001:db8::1"]),
        ("2001:db8::/64", ["2001:db8::1"]),
        ("2001:db8:", ["2001:db8:0:1::5", "2001:db8::1"]),
        ("0.0.0.0/0", ["10.1.2.3", "10.1.200.9", "10.10.0.1", "10.2.0.1", "192.168.0.1"]),
        ("172.16.0.0/12", []),
    ],
)
def test_the_api_filters_by_address_prefix_or_range(
    staff_client, addressed_events, value, expected
):
    assert addresses(staff_client.get(API, {"ip": value, "event_type": "auth_login"})) == expected


@pytest.mark.parametrize(
    "value", ["", "10.1", "10.1.2.3.4.", "300.1.", "10.1.0.0/33", "x", "10..", "fe80::1%eth0/64"]
)
def test_a_bad_range_is_a_400_naming_the_parameter(staff_client, addressed_events, value):
    response = staff_client.get(API, {"ip": value})
    assert response.status_code == 400
    assert (
        "ip" in response.json()["errors"]
        if "errors" in response.json()
        else "ip" in str(response.json())
    )


def test_the_admin_filters_by_range_and_says_what_is_wrong(staff_client, addressed_events):
    page = staff_client.get(CHANGELIST, {"ip": "10.1.0.0/16"}).content.decode()
    assert ">who0<" in page and ">who1<" in page and ">who2<" not in page and ">who5<" not in page
    searched = staff_client.get(CHANGELIST, {"q": "2001:db8::/32"}).content.decode()
    assert (
        ">who5<" in searched
        and ">who6<" in searched
        and ">who7<" not in searched
        and ">who0<" not in searched
    )
    bad = staff_client.get(CHANGELIST, {"ip": "10.1.0.0/99"}).content.decode()
    assert 'id="ip-filter-error"' in bad and ">who0<" not in bad
