"""Who is the client: the one IP helper audit, lockout and throttling share."""

import pytest
from django.test import RequestFactory

from audit.chain import event_hash, key_ring
from audit.models import AuditEvent
from audit.recording.client import ClientContext, client_ip, user_agent
from audit.services import record_event
from audit.tests.fixtures import PASSWORD, sealed

PROXY = "10.0.0.2"
CLIENT = "198.51.100.9"
FORGED = "6.6.6.6"


def request_with(**meta):
    return RequestFactory().get("/", REMOTE_ADDR=meta.pop("REMOTE_ADDR", PROXY), **meta)


def test_without_trusted_proxies_forwarding_headers_are_ignored(settings):
    settings.TRUSTED_PROXY_COUNT = 0
    request = request_with(
        HTTP_X_FORWARDED_FOR=f"{FORGED}, {CLIENT}", HTTP_X_REAL_IP=FORGED, REMOTE_ADDR=CLIENT
    )
    assert client_ip(request) == CLIENT


def test_one_trusted_proxy_takes_the_right_most_forwarded_entry(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    # The client wrote the left-most entry itself; the proxy appended the right-most.
    request = request_with(HTTP_X_FORWARDED_FOR=f"{FORGED}, {CLIENT}")
    assert client_ip(request) == CLIENT


def test_two_trusted_proxies_take_the_second_entry_from_the_right(settings):
    settings.TRUSTED_PROXY_COUNT = 2
    request = request_with(HTTP_X_FORWARDED_FOR=f"{FORGED}, {CLIENT}, 10.0.0.1")
    assert client_ip(request) == CLIENT


def test_fewer_hops_than_trusted_proxies_falls_back_to_remote_addr(settings):
    settings.TRUSTED_PROXY_COUNT = 2
    # Only one hop: the request skipped a proxy, so the single entry is the client's word.
    request = request_with(HTTP_X_FORWARDED_FOR=FORGED)
    assert client_ip(request) == PROXY


def test_x_real_ip_is_ignored_without_a_trusted_proxy(settings):
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_ip(request_with(HTTP_X_REAL_IP=FORGED)) == PROXY


def test_x_real_ip_is_honoured_behind_one_trusted_proxy(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_ip(request_with(HTTP_X_REAL_IP=CLIENT)) == CLIENT


def test_x_forwarded_for_wins_over_x_real_ip(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    request = request_with(HTTP_X_FORWARDED_FOR=CLIENT, HTTP_X_REAL_IP=FORGED)
    assert client_ip(request) == CLIENT


@pytest.mark.parametrize(
    "forwarded",
    [
        "not-an-ip",
        f"{CLIENT}:8080",
        "999.1.1.1",
        "<script>alert(1)</script>",
        "1.2.3.4\r\nX-Injected: 1",
        # A zone id is free text that Python accepts inside an IPv6 address.
        "fe80::1%<script>",
        # The deprecated IPv4-compatible form reads back differently on PostgreSQL.
        "::1.2.3.4",
    ],
)
def test_invalid_forwarded_addresses_fall_back_to_remote_addr(settings, forwarded):
    settings.TRUSTED_PROXY_COUNT = 1
    request = request_with(HTTP_X_FORWARDED_FOR=f"{CLIENT}, {forwarded}")
    assert client_ip(request) == PROXY


@pytest.mark.parametrize("count", [0, 1])
def test_invalid_remote_addr_gives_no_address(settings, count):
    settings.TRUSTED_PROXY_COUNT = count
    assert client_ip(request_with(REMOTE_ADDR="unknown")) is None


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        (f" {CLIENT} ", CLIENT),
        ("2001:DB8:0:0:0:0:0:1", "2001:db8::1"),
        # A dual-stack socket reports IPv4 clients like this; one client, one address.
        (f"::ffff:{CLIENT}", CLIENT),
    ],
)
def test_addresses_are_normalised(settings, raw, stored):
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_ip(request_with(REMOTE_ADDR=raw)) == stored


@pytest.mark.parametrize(
    "raw",
    [
        CLIENT,
        f"::ffff:{CLIENT}",
        "2001:db8:0:0:1:0:0:1",
        "2001:DB8::1",
        "::ffff:0:1.2.3.4",
        "fe80::1%eth0",
        "::1.2.3.4",
    ],
)
def test_stored_address_reads_back_as_it_was_hashed(db, settings, raw):
    # Verifying the chain re-hashes rows as the database returns them; an address the
    # database rewrites on the way in would make an untouched row look tampered with.
    settings.TRUSTED_PROXY_COUNT = 0
    ip = client_ip(request_with(REMOTE_ADDR=raw))
    event = record_event(event_type="auth_login", client=ClientContext(ip_address=ip))
    [stored] = sealed([event])
    assert stored.ip_address == event.ip_address
    fields = {field.name: getattr(stored, field.name) for field in AuditEvent._meta.fields}
    assert event_hash(fields, key_ring().signing) == stored.hash


def test_a_hand_built_client_context_cannot_store_an_invalid_address(db):
    event = record_event(event_type="auth_login", client=ClientContext(ip_address="not-an-ip"))
    assert AuditEvent.objects.get(pk=event.pk).ip_address is None


def test_user_agent_is_escaped_and_truncated(settings):
    request = request_with(HTTP_USER_AGENT="evil\r\nagent\x1b[31m" + "x" * 1000)
    agent = user_agent(request)
    assert agent.startswith("evil\\u000d\\u000aagent\\u001b[31m")
    assert len(agent) == settings.AUDIT_USER_AGENT_MAX_LENGTH
    assert "\n" not in agent and "\r" not in agent


@pytest.mark.parametrize(
    ("count", "recorded"),
    [(0, PROXY), (1, CLIENT)],
)
def test_login_records_the_client_address_the_proxy_count_allows(
    browser, only_event, user, settings, count, recorded
):
    settings.TRUSTED_PROXY_COUNT = count
    response = browser.post(
        "/accounts/login/",
        {"username": "alice", "password": PASSWORD},
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR=f"{FORGED}, {CLIENT}",
        HTTP_X_REAL_IP=FORGED,
    )
    assert response.status_code == 302
    event = only_event(response)
    assert (event.event_type, event.outcome, event.ip_address) == (
        "auth_login",
        "success",
        recorded,
    )


def test_failed_login_never_stores_a_forged_address(browser, only_event, user, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    response = browser.post(
        "/accounts/login/",
        {"username": "alice", "password": "wrong"},
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR="not-an-address",
    )
    assert response.status_code == 200
    event = only_event(response)
    assert (event.outcome, event.ip_address) == ("failure", PROXY)


def test_lockout_counts_failures_by_the_same_address_despite_forged_left_entries(
    browser, user, settings
):
    # django-axes asks audit.client too: rotating the forged left-most entry must not
    # buy an attacker fresh attempts.
    settings.TRUSTED_PROXY_COUNT = 1
    for attempt in range(settings.AXES_FAILURE_LIMIT):
        browser.post(
            "/accounts/login/",
            {"username": "alice", "password": f"guess {attempt}"},
            REMOTE_ADDR=PROXY,
            HTTP_X_FORWARDED_FOR=f"6.6.6.{attempt}, {CLIENT}",
        )
    response = browser.post(
        "/accounts/login/",
        {"username": "alice", "password": PASSWORD},
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR=f"7.7.7.7, {CLIENT}",
    )
    assert response.status_code == 429
    assert "_auth_user_id" not in browser.session
    # Another client address behind the same proxy is not locked out.
    response = browser.post(
        "/accounts/login/",
        {"username": "alice", "password": PASSWORD},
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR="198.51.100.10",
    )
    assert response.status_code == 302
