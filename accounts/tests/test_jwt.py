"""The JWT API: login, refresh, logout, logout everywhere, and their audit rows."""

import jwt
import pytest

from accounts.throttling import RefreshRateThrottle
from audit.models import AuditEvent
from audit.tests.fixtures import PASSWORD, event_fields, request_id

LOGIN = "/api/v2/auth/login"
REFRESH = "/api/v2/auth/refresh"
LOGOUT = "/api/v2/auth/logout"
LOGOUT_ALL = "/api/v2/auth/logout-all"
# A staff-only endpoint: a non-staff bearer gets 403 while the token is good, 401 once not.
PROBE = "/api/v2/admin/users"
BROWSER = {"ip_address": "203.0.113.7", "user_agent": "pytest-browser/1.0"}


def claims(token: str) -> dict:
    """Return a token's claims (the signature is checked by the server, not here)."""
    return jwt.decode(token, options={"verify_signature": False})


def post(client, url, data=None, access=None, **extra):
    if access:
        extra["HTTP_AUTHORIZATION"] = f"Bearer {access}"
    return client.post(url, data or {}, content_type="application/json", **extra)


def token_works(client, access: str) -> bool:
    status = client.get(PROBE, HTTP_AUTHORIZATION=f"Bearer {access}").status_code
    assert status in (401, 403)
    return status == 403


def refresh_status(client, refresh: str) -> int:
    return post(client, REFRESH, {"refresh": refresh}).status_code


# --- auth_login --------------------------------------------------------------


def test_jwt_login_success_is_recorded(browser, user, only_event):
    response = post(browser, LOGIN, {"username": "alice", "password": PASSWORD})
    assert response.status_code == 200
    pair = response.json()
    assert set(pair) == {"access", "refresh"}
    assert token_works(browser, pair["access"])
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
        "metadata": {"method": "jwt", "jti": claims(pair["refresh"])["jti"]},
    }


def test_jwt_login_failure_is_401_and_keeps_the_attempted_username(browser, user, only_event):
    response = post(browser, LOGIN, {"username": "alice", "password": "not the password"})
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert "access" not in response.json()
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
        "metadata": {"method": "jwt", "reason": "invalid_credentials"},
    }


def test_an_inactive_account_cannot_log_in(browser, user, only_event):
    user.is_active = False
    user.save()
    response = post(browser, LOGIN, {"username": "alice", "password": PASSWORD})
    assert response.status_code == 401
    assert only_event(response).outcome == "failure"


def test_a_malformed_login_is_400_and_not_an_attempt(browser, user, events_for):
    response = post(browser, LOGIN, {"username": "alice"})
    assert response.status_code == 400
    assert "password" in response.json()
    assert events_for(response) == []


def test_repeated_jwt_failures_lock_the_username_from_that_address(browser, user, settings):
    for attempt in range(settings.AXES_FAILURE_LIMIT):
        post(browser, LOGIN, {"username": "alice", "password": f"guess {attempt}"})
    lockout = AuditEvent.objects.get(event_type="auth_lockout")
    assert lockout.metadata == {"method": "jwt", "failures": settings.AXES_FAILURE_LIMIT}
    response = post(browser, LOGIN, {"username": "alice", "password": PASSWORD})
    assert response.status_code == 429
    assert "access" not in response.content.decode()


# --- auth_token_refresh ------------------------------------------------------


def test_refresh_rotates_the_token_and_is_recorded(browser, user, api_login, only_event):
    old = api_login(user)
    response = post(browser, REFRESH, {"refresh": old["refresh"]})
    assert response.status_code == 200
    new = response.json()
    assert token_works(browser, new["access"])
    assert refresh_status(browser, old["refresh"]) == 401
    assert event_fields(only_event(response)) == {
        "event_type": "auth_token_refresh",
        "category": "authentication",
        "outcome": "success",
        "user_id": user.pk,
        "username": "alice",
        **BROWSER,
        "request_id": request_id(response),
        "resource_type": "token",
        "resource_id": claims(new["refresh"])["jti"],
        "message": "",
        "metadata": {
            "rotated_from_jti": claims(old["refresh"])["jti"],
            # The first token of a login names its family, which rotation keeps.
            "family": claims(old["refresh"])["jti"],
        },
    }
    assert claims(new["refresh"])["fam"] == claims(old["refresh"])["jti"]


def test_refresh_with_a_garbage_token_is_refused_and_recorded(browser, db, only_event):
    response = post(browser, REFRESH, {"refresh": "not.a.token"})
    assert response.status_code == 401
    assert event_fields(only_event(response)) == {
        "event_type": "auth_token_refresh",
        "category": "authentication",
        "outcome": "failure",
        "user_id": None,
        "username": "",
        **BROWSER,
        "request_id": request_id(response),
        "resource_type": "token",
        "resource_id": "",
        "message": "Refresh token is invalid, expired or revoked.",
        "metadata": {"reason": "invalid"},
    }


def test_refresh_with_an_access_token_is_refused(browser, user, api_login, only_event):
    response = post(browser, REFRESH, {"refresh": api_login(user)["access"]})
    assert response.status_code == 401
    assert only_event(response).outcome == "failure"


def test_reusing_a_rotated_refresh_token_is_refused_and_recorded(
    browser, user, api_login, only_event
):
    old = api_login(user)["refresh"]
    assert refresh_status(browser, old) == 200
    response = post(browser, REFRESH, {"refresh": old})
    assert response.status_code == 401
    event = only_event(response)
    assert (event.event_type, event.outcome, event.resource_type) == (
        "auth_token_refresh",
        "failure",
        "token",
    )
    # A replay of a genuine rotated token is recorded as such, against its owner.
    assert event.metadata["reason"] == "reused"
    assert event.user_id == user.pk
    assert refresh_status(browser, old) == 401


def test_refresh_for_a_disabled_account_is_refused(browser, user, api_login, only_event):
    pair = api_login(user)
    user.is_active = False
    user.save()
    response = post(browser, REFRESH, {"refresh": pair["refresh"]})
    assert response.status_code == 401
    event = only_event(response)
    assert (event.outcome, event.user_id, event.metadata) == (
        "failure",
        user.pk,
        {"reason": "inactive", "jti": claims(pair["refresh"])["jti"]},
    )


# --- auth_logout -------------------------------------------------------------


def test_jwt_logout_revokes_the_refresh_token_and_is_recorded(browser, user, api_login, only_event):
    pair = api_login(user)
    response = post(browser, LOGOUT, {"refresh": pair["refresh"]}, access=pair["access"])
    assert response.status_code == 204
    assert refresh_status(browser, pair["refresh"]) == 401
    assert event_fields(only_event(response)) == {
        "event_type": "auth_logout",
        "category": "authentication",
        "outcome": "success",
        "user_id": user.pk,
        "username": "alice",
        **BROWSER,
        "request_id": request_id(response),
        "resource_type": "token",
        "resource_id": claims(pair["refresh"])["jti"],
        "message": "",
        "metadata": {"method": "jwt", "scope": "token", "tokens_revoked": 1},
    }


def test_jwt_logout_needs_a_bearer_token(browser, user, api_login, events_for):
    pair = api_login(user)
    response = post(browser, LOGOUT, {"refresh": pair["refresh"]})
    assert response.status_code == 401
    assert events_for(response) == []
    assert refresh_status(browser, pair["refresh"]) == 200


def test_an_invalid_or_revoked_refresh_token_is_401_on_logout_as_on_refresh(
    browser, user, api_login
):
    pair = api_login(user)
    access = api_login(user)["access"]
    garbage = post(browser, LOGOUT, {"refresh": "garbage"}, access=access)
    assert (garbage.status_code, refresh_status(browser, "garbage")) == (401, 401)
    assert "detail" in garbage.json()
    assert garbage["WWW-Authenticate"].startswith("Bearer")
    assert post(browser, LOGOUT, {"refresh": pair["refresh"]}, access=access).status_code == 204
    # Revoked now: refused the same way by both endpoints.
    again = post(browser, LOGOUT, {"refresh": pair["refresh"]}, access=access)
    assert (again.status_code, refresh_status(browser, pair["refresh"])) == (401, 401)


def test_auth_bodies_are_json_only(browser, user):
    form = browser.post(LOGIN, {"username": user.username, "password": PASSWORD})
    assert form.status_code == 415
    assert "detail" in form.json()


def test_jwt_logout_refuses_another_users_token(browser, user, make_user, api_login, only_event):
    mine = api_login(user)
    theirs = api_login(make_user(username="bob"))
    response = post(browser, LOGOUT, {"refresh": theirs["refresh"]}, access=mine["access"])
    assert response.status_code == 403
    # Bob's token was not revoked.
    assert refresh_status(browser, theirs["refresh"]) == 200
    assert event_fields(only_event(response)) == {
        "event_type": "auth_logout",
        "category": "authentication",
        "outcome": "failure",
        "user_id": user.pk,
        "username": "alice",
        **BROWSER,
        "request_id": request_id(response),
        "resource_type": "token",
        "resource_id": claims(theirs["refresh"])["jti"],
        "message": "Refused to revoke another user's token",
        "metadata": {"method": "jwt", "scope": "token", "reason": "foreign_token"},
    }


def test_jwt_logout_all_ends_every_session_and_token(
    browser, client_for, user, api_login, only_event
):
    session = client_for(user)
    first, second = api_login(user), api_login(user)
    response = post(browser, LOGOUT_ALL, access=first["access"])
    assert response.status_code == 204
    for pair in (first, second):
        assert refresh_status(browser, pair["refresh"]) == 401
        assert not token_works(browser, pair["access"])
    assert session.get("/accounts/password/").status_code == 302
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
        "metadata": {"method": "jwt", "scope": "all", "sessions_ended": 1, "tokens_revoked": 2},
    }


def test_jwt_logout_all_leaves_other_users_tokens_alone(browser, user, make_user, api_login):
    theirs = api_login(make_user(username="bob"))
    post(browser, LOGOUT_ALL, access=api_login(user)["access"])
    assert token_works(browser, theirs["access"])
    assert refresh_status(browser, theirs["refresh"]) == 200


def test_jwt_logout_all_needs_a_bearer_token(browser, db, events_for):
    response = post(browser, LOGOUT_ALL)
    assert response.status_code == 401
    assert events_for(response) == []


# --- throttling ----------------------------------------------------------------


@pytest.mark.parametrize("proxies", [0, 1])
def test_unsigned_refreshes_are_throttled_per_client_address(browser, db, settings, proxies):
    settings.TRUSTED_PROXY_COUNT = proxies
    # A token that is not genuinely signed has no family: its bucket is the address.
    limit = int(RefreshRateThrottle.THROTTLE_RATES["refresh"].split("/")[0])
    for n in range(limit):
        # A fresh forged left-most entry each time buys no fresh allowance.
        forged = {"HTTP_X_FORWARDED_FOR": f"6.6.6.{n}, 198.51.100.9"}
        assert post(browser, REFRESH, {"refresh": "x"}, **forged).status_code == 401
    forged = {"HTTP_X_FORWARDED_FOR": "7.7.7.7, 198.51.100.9"}
    response = post(browser, REFRESH, {"refresh": "x"}, **forged)
    assert response.status_code == 429
    # Throttled requests do not reach the service, so they add no audit rows.
    assert AuditEvent.objects.filter(event_type="auth_token_refresh").count() == limit
    other = {"REMOTE_ADDR": "198.51.100.77", "HTTP_X_FORWARDED_FOR": "198.51.100.78"}
    assert post(browser, REFRESH, {"refresh": "x"}, **other).status_code == 401
