"""Server-rendered login, logout, logout everywhere and password change, and their audit rows."""

import pytest
from django.db import DatabaseError
from django.test import Client

from accounts.models import UserSession
from audit.models import AuditEvent
from audit.tests.fixtures import PASSWORD, event_fields, request_id

LOGIN = "/accounts/login/"
LOGOUT = "/accounts/logout/"
LOGOUT_ALL = "/accounts/logout-all/"
PASSWORD_PAGE = "/accounts/password/"
ADMIN_LOGIN = "/admin/login/"
BROWSER = {"ip_address": "203.0.113.7", "user_agent": "pytest-browser/1.0"}


def is_logged_in(client: Client) -> bool:
    """Return whether the client's session still opens a login-only page."""
    return client.get(PASSWORD_PAGE).status_code == 200


# --- pages -----------------------------------------------------------------


def test_login_page_renders_a_form(browser):
    response = browser.get(LOGIN)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="username"' in html and 'name="password"' in html
    assert 'name="csrfmiddlewaretoken"' in html
    assert "Logged in as" not in html


def test_base_layout_names_the_logged_in_user(client_for, user):
    response = client_for(user).get(PASSWORD_PAGE)
    assert response.status_code == 200
    assert "Logged in as <strong>alice</strong>" in response.content.decode()


def test_login_redirects_only_to_this_site(browser, user):
    response = browser.post(
        LOGIN, {"username": "alice", "password": PASSWORD, "next": "https://evil.example/"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/"


def test_logout_requires_post(client_for, user):
    client = client_for(user)
    assert client.get(LOGOUT).status_code == 405
    assert client.get(LOGOUT_ALL).status_code == 405
    assert is_logged_in(client)


def test_password_change_replaces_the_password(client_for, browser, user):
    client = client_for(user)
    new = "a different, longer passphrase 77"
    response = client.post(
        PASSWORD_PAGE,
        {"old_password": PASSWORD, "new_password1": new, "new_password2": new},
    )
    assert response.status_code == 302
    assert response["Location"] == "/accounts/password/done/"
    # The session that changed the password stays logged in.
    assert is_logged_in(client)
    refused = browser.post(LOGIN, {"username": "alice", "password": PASSWORD})
    assert refused.status_code == 200
    accepted = browser.post(LOGIN, {"username": "alice", "password": new})
    assert accepted.status_code == 302


def test_password_change_with_a_wrong_old_password_changes_nothing(client_for, user):
    response = client_for(user).post(
        PASSWORD_PAGE,
        {"old_password": "wrong", "new_password1": "x" * 20, "new_password2": "x" * 20},
    )
    assert response.status_code == 200
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


# --- auth_login --------------------------------------------------------------


def test_session_login_success_is_recorded(browser, user, only_event):
    response = browser.post(LOGIN, {"username": "alice", "password": PASSWORD})
    assert response.status_code == 302
    assert is_logged_in(browser)
    assert event_fields(only_event(response)) == {
        "event_type": "auth_login",
        "category": "authentication",
        "outcome": "success",
        "user_id": user.pk,
        "username": "alice",
        **BROWSER,
        "request_id": request_id(response),
        "resource_type": "user",
        "resource_id": str(user.pk),
        "message": "",
        "metadata": {"method": "session"},
    }


def test_a_sign_in_whose_event_cannot_be_recorded_leaves_no_session(browser, user, monkeypatch):
    def refused(**fields):
        raise DatabaseError("the audit INSERT failed")

    monkeypatch.setattr("accounts.receivers.record_event", refused)
    with pytest.raises(DatabaseError):
        browser.post(LOGIN, {"username": "alice", "password": PASSWORD})
    user.refresh_from_db()
    assert user.last_login is None
    assert not UserSession.objects.filter(user_id=user.pk).exists()
    assert not is_logged_in(browser)


def test_session_login_failure_keeps_the_attempted_username_only(browser, user, only_event):
    response = browser.post(LOGIN, {"username": "alice", "password": "not the password"})
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()
    assert not is_logged_in(browser)
    assert event_fields(only_event(response)) == {
        "event_type": "auth_login",
        "category": "authentication",
        "outcome": "failure",
        "user_id": None,
        "username": "alice",
        **BROWSER,
        "request_id": request_id(response),
        "resource_type": "user",
        "resource_id": "",
        "message": "Login refused: invalid credentials",
        "metadata": {"method": "session", "reason": "invalid_credentials"},
    }


def test_login_failure_for_an_unknown_username_is_recorded_too(browser, db, only_event):
    response = browser.post(LOGIN, {"username": "nobody", "password": "guess"})
    event = only_event(response)
    assert (event.outcome, event.username, event.user_id) == ("failure", "nobody", None)


def test_admin_login_success_is_recorded(browser, staff, only_event):
    response = browser.post(
        f"{ADMIN_LOGIN}?next=/admin/",
        {"username": "staffer", "password": PASSWORD, "next": "/admin/"},
    )
    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    assert event_fields(only_event(response)) == {
        "event_type": "auth_login",
        "category": "authentication",
        "outcome": "success",
        "user_id": staff.pk,
        "username": "staffer",
        **BROWSER,
        "request_id": request_id(response),
        "resource_type": "user",
        "resource_id": str(staff.pk),
        "message": "",
        "metadata": {"method": "admin"},
    }


def test_admin_login_failure_is_recorded(browser, staff, only_event):
    response = browser.post(ADMIN_LOGIN, {"username": "staffer", "password": "wrong"})
    assert response.status_code == 200
    assert event_fields(only_event(response)) == {
        "event_type": "auth_login",
        "category": "authentication",
        "outcome": "failure",
        "user_id": None,
        "username": "staffer",
        **BROWSER,
        "request_id": request_id(response),
        "resource_type": "user",
        "resource_id": "",
        "message": "Login refused: invalid credentials",
        "metadata": {"method": "admin", "reason": "invalid_credentials"},
    }


def test_repeated_failures_lock_the_username_from_that_address(browser, user, settings):
    for attempt in range(settings.AXES_FAILURE_LIMIT):
        browser.post(LOGIN, {"username": "alice", "password": f"guess {attempt}"})
    lockout = AuditEvent.objects.get(event_type="auth_lockout")
    assert (lockout.outcome, lockout.username, lockout.ip_address) == (
        "failure",
        "alice",
        "203.0.113.7",
    )
    assert lockout.metadata == {"method": "session", "failures": settings.AXES_FAILURE_LIMIT}
    # Now even the right password is refused from this address...
    response = browser.post(LOGIN, {"username": "alice", "password": PASSWORD})
    assert response.status_code == 429
    assert not is_logged_in(browser)
    # ...but not from another one.
    elsewhere = Client(REMOTE_ADDR="198.51.100.99")
    assert elsewhere.post(LOGIN, {"username": "alice", "password": PASSWORD}).status_code == 302


# --- auth_logout -------------------------------------------------------------


def test_session_logout_is_recorded(client_for, user, only_event):
    client = client_for(user)
    response = client.post(LOGOUT)
    assert response.status_code == 302
    assert not is_logged_in(client)
    assert event_fields(only_event(response)) == {
        "event_type": "auth_logout",
        "category": "authentication",
        "outcome": "success",
        "user_id": user.pk,
        "username": "alice",
        **BROWSER,
        "request_id": request_id(response),
        "resource_type": "user",
        "resource_id": str(user.pk),
        "message": "",
        "metadata": {"method": "session", "scope": "session", "sessions_ended": 1},
    }


def test_admin_logout_is_recorded_as_admin(client_for, staff, only_event):
    client = client_for(staff)
    response = client.post("/admin/logout/")
    assert response.status_code in (200, 302)
    assert not is_logged_in(client)
    event = only_event(response)
    assert (event.event_type, event.user_id, event.metadata) == (
        "auth_logout",
        staff.pk,
        {"method": "admin", "scope": "session", "sessions_ended": 1},
    )


def test_logging_out_without_a_session_records_nothing(browser, db, events_for):
    response = browser.post(LOGOUT)
    assert response.status_code == 302
    assert events_for(response) == []


def test_logout_ends_only_this_session(client_for, user):
    here, elsewhere = client_for(user), client_for(user)
    here.post(LOGOUT)
    assert not is_logged_in(here)
    assert is_logged_in(elsewhere)


def test_logout_all_page_ends_every_session_and_token(
    client_for, user, api_login, client, only_event
):
    here = client_for(user)
    # The other session comes through the real login form (which cycles the session key).
    elsewhere = Client(REMOTE_ADDR="198.51.100.99")
    assert elsewhere.post(LOGIN, {"username": "alice", "password": PASSWORD}).status_code == 302
    pair = api_login(user)
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {pair['access']}"}
    # A non-staff bearer is refused the staff user list with 403 while the token is good.
    assert client.get("/api/v2/admin/users", **bearer).status_code == 403
    response = here.post(LOGOUT_ALL)
    assert response.status_code == 302
    assert response["Location"] == LOGIN
    assert not is_logged_in(here)
    assert not is_logged_in(elsewhere)
    refreshed = client.post(
        "/api/v2/auth/refresh", {"refresh": pair["refresh"]}, content_type="application/json"
    )
    assert refreshed.status_code == 401
    assert client.get("/api/v2/admin/users", **bearer).status_code == 401
    # The user is told what was ended.
    page = here.get(LOGIN)
    assert "Logged out of 2 sessions. 1 API token revoked." in page.content.decode()
    assert event_fields(only_event(response)) == {
        "event_type": "auth_logout",
        "category": "authentication",
        "outcome": "success",
        "user_id": user.pk,
        "username": "alice",
        **BROWSER,
        "request_id": request_id(response),
        "resource_type": "user",
        "resource_id": str(user.pk),
        "message": "Logged out of all sessions",
        "metadata": {
            "method": "session",
            "scope": "all",
            "sessions_ended": 2,
            "tokens_revoked": 1,
        },
    }


def test_logout_all_leaves_other_users_logged_in(client_for, user, make_user):
    other = client_for(make_user())
    client_for(user).post(LOGOUT_ALL)
    assert is_logged_in(other)


@pytest.mark.parametrize("url", [LOGOUT_ALL])
def test_logout_all_needs_a_logged_in_user(browser, db, events_for, url):
    response = browser.post(url)
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN)
    assert events_for(response) == []


def test_admin_login_by_a_non_staff_account_is_refused_and_recorded(client, user):
    response = client.post(
        "/admin/login/",
        {"username": user.username, "password": PASSWORD},
        HTTP_USER_AGENT="admin-probe/1",
        REMOTE_ADDR="198.51.100.20",
    )

    assert response.status_code == 200  # the form again, with an error
    assert "_auth_user_id" not in client.session
    event = AuditEvent.objects.get(event_type="auth_login", outcome="failure")
    assert (event.user_id, event.username, event.ip_address, event.user_agent) == (
        user.pk,
        user.username,
        "198.51.100.20",
        "admin-probe/1",
    )
    assert event.metadata == {"method": "admin", "reason": "not_staff"}
    assert event.request_id == response["X-Request-ID"]


def test_a_token_typed_as_a_username_is_not_stored(client, db):
    token = "eyJhbGciOiJIUzI1NiJ9.eyJ1c2VyX2lkIjoiMSJ9.c2lnbmF0dXJlLXZhbHVl"
    client.post("/accounts/login/", {"username": token, "password": "x"})

    event = AuditEvent.objects.get(event_type="auth_login", outcome="failure")
    assert token not in event.username
    assert event.username == "[redacted]"
