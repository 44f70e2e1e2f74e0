"""Every request gets an id that links its response and its audit events."""

import re

import pytest

from audit.recording.client import ClientContext
from audit.services import record_event
from audit.tests.fixtures import PASSWORD

GENERATED = re.compile(r"[0-9a-f]{32}")
AUDIT_LOGS = "/api/v2/admin/audit-logs"


@pytest.mark.parametrize(
    "incoming",
    [
        "req-0001-abcdefgh",
        "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
        "trace:span.1_2",
        "x" * 64,
        "short",
        "7",
    ],
)
def test_a_sane_incoming_request_id_is_kept_beside_the_servers_own(
    client_for, staff, only_event, incoming
):
    response = client_for(staff).get(AUDIT_LOGS, HTTP_X_REQUEST_ID=incoming)
    assert response.status_code == 200
    # The response echoes the server's id, never the caller's.
    server_id = response["X-Request-ID"]
    assert GENERATED.fullmatch(server_id)
    event = only_event(response)
    assert event.request_id == server_id
    assert event.metadata["client_request_id"] == incoming


@pytest.mark.parametrize(
    "incoming",
    [
        "x" * 65,
        "req-0001\r\nX-Injected: yes",
        "req-0001-abcdefgh\n",
        "req 0001 abcdefgh",
        "req-0001-<script>",
        "req-0001-é-abcdefgh",
        "",
    ],
)
def test_an_insane_incoming_request_id_is_dropped(client_for, staff, only_event, incoming):
    response = client_for(staff).get(AUDIT_LOGS, HTTP_X_REQUEST_ID=incoming)
    assert response.status_code == 200
    generated = response["X-Request-ID"]
    assert GENERATED.fullmatch(generated)
    event = only_event(response)
    assert event.request_id == generated
    assert "client_request_id" not in event.metadata


def test_a_client_cannot_file_its_request_under_another_ones_id(
    browser, client_for, user, staff, events_for
):
    # Once, a failed login sent with an upload's id was listed under that upload.
    earlier = client_for(user).get("/api/v2/tasks")  # someone else's request, and its id
    victim_id = earlier["X-Request-ID"]
    login = browser.post(
        "/api/v2/auth/login",
        {"username": "alice", "password": "wrong"},
        content_type="application/json",
        HTTP_X_REQUEST_ID=victim_id,
    )
    assert login.status_code == 401
    assert login["X-Request-ID"] != victim_id
    [failure] = events_for(login)
    assert (failure.event_type, failure.outcome) == ("auth_login", "failure")
    assert failure.metadata["client_request_id"] == victim_id
    # Listed by the API under its own id; under the victim's only as the caller's claim.
    api = client_for(staff)
    by_server_id = api.get(AUDIT_LOGS, {"request_id": victim_id}).json()["results"]
    assert failure.pk not in [e["id"] for e in by_server_id]
    claimed = api.get(AUDIT_LOGS, {"client_request_id": victim_id}).json()["results"]
    assert [(e["id"], e["request_id"]) for e in claimed] == [(failure.pk, failure.request_id)]


@pytest.mark.parametrize("proxies", [0, 1])
def test_a_proxys_request_id_is_only_a_client_request_id(
    settings, client_for, staff, only_event, proxies
):
    # nginx's $request_id, say: the server cannot tell it from the client's own.
    settings.TRUSTED_PROXY_COUNT = proxies
    response = client_for(staff).get(
        AUDIT_LOGS,
        HTTP_X_REQUEST_ID="0123456789abcdef0123456789abcdef",
        HTTP_X_FORWARDED_FOR="198.51.100.9",
    )
    event = only_event(response)
    assert event.request_id == response["X-Request-ID"] != "0123456789abcdef0123456789abcdef"
    assert event.metadata["client_request_id"] == "0123456789abcdef0123456789abcdef"


def test_each_request_without_an_id_gets_a_fresh_one(browser):
    first = browser.get("/accounts/login/")["X-Request-ID"]
    second = browser.get("/accounts/login/")["X-Request-ID"]
    assert GENERATED.fullmatch(first) and GENERATED.fullmatch(second)
    assert first != second


def test_error_responses_carry_the_request_id_too(browser):
    response = browser.get(AUDIT_LOGS, HTTP_X_REQUEST_ID="req-0001-abcdefgh")
    assert response.status_code == 401
    assert GENERATED.fullmatch(response["X-Request-ID"])


def test_events_recorded_deep_in_a_service_carry_the_request_client(
    browser, only_event, user, browser_headers
):
    # The JWT login records its event inside accounts.services; the id, address and
    # user agent still come from the request being served.
    response = browser.post(
        "/api/v2/auth/login",
        {"username": "alice", "password": PASSWORD},
        content_type="application/json",
        HTTP_X_REQUEST_ID="req-jwt-login-1",
    )
    assert response.status_code == 200
    event = only_event(response)
    assert (event.request_id, event.ip_address, event.user_agent) == (
        response["X-Request-ID"],
        browser_headers["REMOTE_ADDR"],
        browser_headers["HTTP_USER_AGENT"],
    )
    assert event.metadata["client_request_id"] == "req-jwt-login-1"


def test_the_request_client_ends_with_its_response(browser, user):
    response = browser.get("/accounts/login/", HTTP_X_REQUEST_ID="req-over-and-done")
    assert response.status_code == 200

    # Recorded after the response, as a command or the worker would: no client of its own.
    event = record_event(event_type="auth_login", user=user, resource_type="user")
    assert (event.request_id, event.ip_address, event.user_agent) == ("", None, "")
    assert "client_request_id" not in event.metadata


def test_an_explicit_client_names_work_done_outside_a_request(db):
    client = ClientContext("198.51.100.77", "worker/1", "req-carried-over")

    event = record_event(event_type="task_process", client=client, resource_type="task")

    assert (event.request_id, event.ip_address, event.user_agent) == (
        "req-carried-over",
        "198.51.100.77",
        "worker/1",
    )
