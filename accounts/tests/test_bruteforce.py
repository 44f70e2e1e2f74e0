"""Brute force: django-axes lockout per username + IP, and the throttles of the auth endpoints."""

import re
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.models import Permission
from django.test import Client
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

from accounts.throttling import LoginRateThrottle, LogoutRateThrottle, RefreshRateThrottle
from audit.events import Outcome
from audit.models import AuditEvent
from audit.tests.fixtures import PASSWORD

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_cache")]

ATTACKER = "198.51.100.66"
ELSEWHERE = "192.0.2.10"
JWT_LOGIN = "/api/v2/auth/login"


def at(ip: str, **headers) -> Client:
    return Client(REMOTE_ADDR=ip, HTTP_USER_AGENT="bruteforce-test/1.0", **headers)


def session_login(client: Client, username: str, password: str, **extra):
    return client.post("/accounts/login/", {"username": username, "password": password}, **extra)


def admin_login(client: Client, username: str, password: str, **extra):
    return client.post(
        "/admin/login/?next=/admin/",
        {"username": username, "password": password, "next": "/admin/"},
        **extra,
    )


def jwt_login(client: Client, username: str, password: str, **extra):
    return client.post(
        JWT_LOGIN,
        {"username": username, "password": password},
        content_type="application/json",
        **extra,
    )


def session_ok(response) -> bool:
    return response.status_code == 302 and "_auth_user_id" in response.client.session


def admin_ok(response) -> bool:
    return response.status_code == 302 and response["Location"] == "/admin/"


def jwt_ok(response) -> bool:
    return response.status_code == 200 and set(response.json()) == {"access", "refresh"}


SURFACES = {
    "session": (session_login, session_ok),
    "admin": (admin_login, admin_ok),
    "jwt": (jwt_login, jwt_ok),
}


@pytest.fixture(params=list(SURFACES))
def surface(request, staff):
    """(method name, login function, success check); the staff user can use all three."""
    login, succeeded = SURFACES[request.param]
    return request.param, login, succeeded


def fail_until_locked(login, settings, username: str, ip: str, **extra):
    """Fail AXES_FAILURE_LIMIT times from one address; return the last response."""
    client = at(ip)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        response = login(client, username, "wrong password", **extra)
    return response


def assert_locked_response(method: str, response) -> None:
    assert response.status_code == 429, response.content
    if method == "jwt":
        # An API client gets JSON it can parse, not django-axes' HTML page.
        assert response["Content-Type"] == "application/json"
        assert response.json()["code"] == "locked_out"
        assert "locked" in response.json()["detail"].lower()
    assert int(response["Retry-After"]) == 15 * 60


def test_failure_limit_locks_the_username_at_that_address(surface, staff, settings):
    method, login, succeeded = surface

    last = fail_until_locked(login, settings, staff.username, ATTACKER)
    right = login(at(ATTACKER), staff.username, PASSWORD)

    assert_locked_response(method, last)
    assert_locked_response(method, right)
    assert not succeeded(right)
    if method == "jwt":
        assert not OutstandingToken.objects.exists()


def test_the_same_username_still_logs_in_from_another_address(surface, staff, settings):
    _, login, succeeded = surface
    fail_until_locked(login, settings, staff.username, ATTACKER)

    response = login(at(ELSEWHERE), staff.username, PASSWORD)

    assert succeeded(response), response.content


def test_another_username_at_the_locked_address_is_not_locked(make_user, staff, settings):
    other = make_user(username="bob")
    fail_until_locked(session_login, settings, staff.username, ATTACKER)

    assert session_ok(session_login(at(ATTACKER), other.username, PASSWORD))


def test_one_lockout_records_one_auth_lockout_event_with_its_fields(surface, staff, settings):
    method, login, _ = surface
    fail_until_locked(login, settings, staff.username, ATTACKER)
    # More refused attempts during the lockout, wrong and right passwords alike.
    login(at(ATTACKER), staff.username, "wrong again")
    login(at(ATTACKER), staff.username, PASSWORD)

    [event] = AuditEvent.objects.filter(event_type="auth_lockout")
    assert (event.outcome, event.username, event.ip_address) == (
        Outcome.FAILURE,
        staff.username,
        ATTACKER,
    )
    assert event.user_agent == "bruteforce-test/1.0"
    assert event.category == "authentication"
    assert event.metadata == {"method": method, "failures": settings.AXES_FAILURE_LIMIT}
    refused = AuditEvent.objects.filter(
        event_type="auth_login", outcome=Outcome.FAILURE, metadata__reason="locked_out"
    )
    assert refused.count() == 2


def test_hammering_during_the_lockout_does_not_record_new_lockouts(staff, settings):
    fail_until_locked(jwt_login, settings, staff.username, ATTACKER)
    for _ in range(5):
        jwt_login(at(ATTACKER), staff.username, "still wrong")

    assert AuditEvent.objects.filter(event_type="auth_lockout").count() == 1


def test_cool_off_is_fifteen_minutes_by_default(settings):
    assert timedelta(minutes=15) == settings.AXES_COOLOFF_TIME


@pytest.mark.parametrize(("minutes_ago", "locked"), [(14, True), (16, False)])
def test_lockout_ends_after_the_cool_off(surface, staff, settings, minutes_ago, locked):
    method, login, succeeded = surface
    fail_until_locked(login, settings, staff.username, ATTACKER)

    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=minutes_ago))
    response = login(at(ATTACKER), staff.username, PASSWORD)

    assert succeeded(response) is not locked
    if locked:
        assert_locked_response(method, response)


def test_a_second_lockout_after_the_cool_off_is_recorded_again(staff, settings):
    fail_until_locked(jwt_login, settings, staff.username, ATTACKER)
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))

    fail_until_locked(jwt_login, settings, staff.username, ATTACKER)

    assert AuditEvent.objects.filter(event_type="auth_lockout").count() == 2


def test_forged_x_forwarded_for_does_not_buy_a_fresh_lockout_bucket(surface, staff, settings):
    method, login, succeeded = surface
    settings.TRUSTED_PROXY_COUNT = 0
    client = at(ATTACKER)
    for number in range(settings.AXES_FAILURE_LIMIT):
        login(client, staff.username, "wrong", HTTP_X_FORWARDED_FOR=f"10.0.0.{number}")

    response = login(client, staff.username, PASSWORD, HTTP_X_FORWARDED_FOR="10.9.9.9")

    assert not succeeded(response)
    assert_locked_response(method, response)
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {ATTACKER}


def test_changing_user_agent_does_not_reset_the_count(staff, settings):
    for number in range(settings.AXES_FAILURE_LIMIT):
        client = Client(REMOTE_ADDR=ATTACKER, HTTP_USER_AGENT=f"agent-{number}")
        session_login(client, staff.username, "wrong")

    response = session_login(Client(REMOTE_ADDR=ATTACKER), staff.username, PASSWORD)

    assert response.status_code == 429


# --- Throttles: password logins per address, refresh per family, logout per user -----


@pytest.fixture
def three_per_minute(monkeypatch):
    # DRF copies the rates onto the class when it is defined; settings alone come too late.
    for throttle in (LoginRateThrottle, RefreshRateThrottle, LogoutRateThrottle):
        monkeypatch.setattr(throttle, "THROTTLE_RATES", {throttle.scope: "3/min"})


def refresh(client: Client, token: str = "not-a-token", **extra):  # noqa: S107
    return client.post(
        "/api/v2/auth/refresh", {"refresh": token}, content_type="application/json", **extra
    )


@pytest.mark.usefixtures("three_per_minute")
@pytest.mark.parametrize("call", [jwt_login, refresh], ids=["login", "refresh"])
def test_auth_api_answers_429_with_retry_after_past_the_rate(user, call):
    client = at(ATTACKER)
    answers = [
        (call(client, user.username, "wrong") if call is jwt_login else call(client)).status_code
        for _ in range(3)
    ]
    throttled = call(client, user.username, PASSWORD) if call is jwt_login else call(client)

    assert answers == [401, 401, 401]
    assert throttled.status_code == 429
    assert 0 < int(throttled["Retry-After"]) <= 60
    assert "throttled" in throttled.json()["detail"].lower()


@pytest.mark.usefixtures("three_per_minute")
@pytest.mark.parametrize("last", ["session", "admin", "jwt"])
def test_password_logins_share_one_bucket_per_address_across_form_admin_and_api(make_user, last):
    client = at(ATTACKER)
    # Spraying: a different username each time, so no lockout is ever reached.
    session_login(client, "ann", "guess")
    admin_login(client, "ben", "guess")
    jwt_login(client, "cat", "guess")
    before = AuditEvent.objects.count()

    login, _ = SURFACES[last]
    throttled = login(client, "dan", "guess")

    assert throttled.status_code == 429
    assert 0 < int(throttled["Retry-After"]) <= 60
    # Refused before any backend: not an attempt for the trail or for django-axes.
    assert AuditEvent.objects.count() == before
    assert not AccessAttempt.objects.filter(username="dan").exists()
    other = make_user(username="other")
    assert session_ok(session_login(at(ELSEWHERE), other.username, PASSWORD))


@pytest.mark.usefixtures("three_per_minute")
def test_showing_the_login_form_is_not_an_attempt(db):
    client = at(ATTACKER)
    assert [client.get("/accounts/login/").status_code for _ in range(5)] == [200] * 5


@pytest.mark.usefixtures("three_per_minute")
def test_refresh_is_throttled_per_token_family_not_per_address(make_user):
    office = at(ATTACKER)
    # Many clients behind one address, each rotating its own family up to the rate.
    tokens = [
        jwt_login(at(f"192.0.2.{n}"), make_user().username, PASSWORD).json()["refresh"]
        for n in range(4)
    ]
    for _ in range(3):
        answers = [refresh(office, token) for token in tokens]
        assert [answer.status_code for answer in answers] == [200] * 4
        tokens = [answer.json()["refresh"] for answer in answers]
    # One family past its own rate is throttled; login from the address is not affected.
    assert refresh(office, tokens[0]).status_code == 429
    assert jwt_ok(jwt_login(office, make_user().username, PASSWORD))


@pytest.mark.usefixtures("three_per_minute")
def test_logout_is_throttled_per_user(make_user):
    office = at(ATTACKER)
    alice, bob = make_user(), make_user()
    pairs = [jwt_login(at(f"192.0.2.{n}"), alice.username, PASSWORD).json() for n in range(4)]
    statuses = [
        office.post(
            "/api/v2/auth/logout",
            {"refresh": pair["refresh"]},
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {pair['access']}",
        ).status_code
        for pair in pairs
    ]
    assert statuses == [204, 204, 204, 429]
    other = jwt_login(at(ELSEWHERE), bob.username, PASSWORD).json()
    response = office.post(
        "/api/v2/auth/logout-all", HTTP_AUTHORIZATION=f"Bearer {other['access']}"
    )
    assert response.status_code == 204


@pytest.mark.usefixtures("three_per_minute")
def test_forged_x_forwarded_for_does_not_reset_the_throttle(user, settings):
    settings.TRUSTED_PROXY_COUNT = 0
    client = at(ATTACKER)
    for number in range(3):
        refresh(client, HTTP_X_FORWARDED_FOR=f"10.0.0.{number}", HTTP_X_REAL_IP=f"10.1.0.{number}")

    response = refresh(client, HTTP_X_FORWARDED_FOR="10.9.9.9", HTTP_X_REAL_IP="10.9.9.9")

    assert response.status_code == 429


@pytest.mark.usefixtures("three_per_minute")
def test_behind_one_proxy_the_right_most_forwarded_address_is_the_key(user, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    proxy = at("10.0.0.1")
    for number in range(3):
        # The client controls everything left of what our proxy appended.
        refresh(proxy, HTTP_X_FORWARDED_FOR=f"1.1.1.{number}, {ATTACKER}")

    same_client = refresh(proxy, HTTP_X_FORWARDED_FOR=f"9.9.9.9, {ATTACKER}")
    other_client = refresh(proxy, HTTP_X_FORWARDED_FOR=ELSEWHERE)

    assert same_client.status_code == 429
    assert other_client.status_code == 401


def test_staff_unlock_from_the_axes_admin_is_recorded_and_bulk_delete_is_gone(staff, settings):
    fail_until_locked(session_login, settings, staff.username, ATTACKER)
    other = at(ELSEWHERE)
    other.force_login(staff)
    changelist = "/admin/axes/accessattempt/"
    attempt = AccessAttempt.objects.get(username=staff.username)

    page = other.get(changelist)
    response = other.post(
        changelist, {"action": "unlock", "_selected_action": [attempt.pk]}, follow=True
    )

    assert "delete_selected" not in page.content.decode()
    assert response.status_code == 200
    assert not AccessAttempt.objects.filter(username=staff.username).exists()
    [event] = AuditEvent.objects.filter(event_type="auth_unlock")
    assert event.metadata["unlocked_username"] == staff.username
    assert event.metadata["unlocked_ip_address"] == ATTACKER
    assert session_ok(session_login(at(ATTACKER), staff.username, PASSWORD))


DASHBOARD = "/admin/dashboard/"


def locked_rows(page: str) -> list[list[str]]:
    """Return the username, address and failures of each row of the dashboard's "Locked now"."""
    table = re.search(r'<table[^>]*id="locked-table".*?</table>', page, re.S)
    assert table, "the dashboard lists locked accounts"
    rows = re.findall(r"<tr>(.*?)</tr>", table.group(0).split("<tbody>")[1], re.S)
    return [[cell.strip() for cell in re.findall(r"<td>(.*?)</td>", row, re.S)[:3]] for row in rows]


def test_staff_with_the_permission_unlock_a_locked_account_from_the_dashboard(
    staff, user, client_for, settings
):
    fail_until_locked(session_login, settings, user.username, ATTACKER)
    staff_client = client_for(staff)
    page = staff_client.get(DASHBOARD).content.decode()
    assert locked_rows(page)[0] == [user.username, ATTACKER, "5"]

    response = staff_client.post(
        "/accounts/unlock/", {"username": user.username, "ip_address": ATTACKER}
    )

    assert response.status_code == 302
    assert response["Location"] == f"{DASHBOARD}#locked-now"
    assert "No account is locked out now." in staff_client.get(DASHBOARD).content.decode()
    event = AuditEvent.objects.get(event_type="auth_unlock")
    assert (event.username, event.resource_id) == (staff.username, user.username)
    assert event.metadata["unlocked_ip_address"] == ATTACKER
    assert session_ok(session_login(at(ATTACKER), user.username, PASSWORD))


def test_unlock_from_the_dashboard_needs_the_axes_permission(make_user, client_for, user, settings):
    fail_until_locked(session_login, settings, user.username, ATTACKER)
    clerk = make_user(username="clerk", staff=True)
    # The dashboard itself needs the audit permission; unlocking needs axes' own on top.
    clerk.user_permissions.add(Permission.objects.get(codename="view_auditevent"))
    form = {"username": user.username, "ip_address": ATTACKER}

    refused = client_for(clerk).post("/accounts/unlock/", form)
    page = client_for(clerk).get(DASHBOARD).content.decode()
    clerk.user_permissions.add(Permission.objects.get(codename="delete_accessattempt"))
    allowed = client_for(clerk).post("/accounts/unlock/", form)

    assert refused.status_code == 403
    assert locked_rows(page)[0] == [user.username, ATTACKER, "5"]
    assert "Can delete access attempt" in page and 'action="/accounts/unlock/"' not in page
    assert allowed.status_code == 302
    assert AuditEvent.objects.filter(event_type="auth_unlock").count() == 1


def test_an_invalid_unlock_from_the_dashboard_unlocks_nothing(staff, client_for):
    response = client_for(staff).post("/accounts/unlock/", {"username": "", "ip_address": "x"})

    assert response.status_code == 302
    assert response["Location"] == DASHBOARD
    assert not AuditEvent.objects.filter(event_type="auth_unlock").exists()


@pytest.mark.parametrize("username", ["alice", "nobody-by-this-name"])
def test_the_login_page_warns_before_the_lockout_the_same_for_any_username(
    user, settings, username
):
    client = Client(REMOTE_ADDR="198.51.100.31")
    pages = [
        client.post("/accounts/login/", {"username": username, "password": "wrong"})
        for _ in range(settings.AXES_FAILURE_LIMIT - 1)
    ]
    said = ['id="attempts-left"' in page.content.decode() for page in pages]
    # Quiet at first, then warned at 2 and 1 attempts left; the same for unknown names.
    assert said == [False] * (settings.AXES_FAILURE_LIMIT - 3) + [True, True]
    assert (
        "1 attempt left before sign-in with this username from this address is locked "
        "for 15 minutes." in pages[-1].content.decode()
    )
    locked = client.post("/accounts/login/", {"username": username, "password": "wrong"})
    assert locked.status_code == 429
    assert 'id="retry-at"' in locked.content.decode()
