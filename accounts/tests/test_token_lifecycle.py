"""Token lifecycle: revocation by version, and refresh-token families."""

import pytest
from django.core.management import call_command

from audit.models import AuditEvent
from audit.tests.fixtures import PASSWORD

from .test_jwt import REFRESH, claims, post, refresh_status, token_works

NEW_PASSWORD = "a different horse 77 battery"


def change_password_in_a_shell(user) -> None:
    user.set_password(NEW_PASSWORD)
    user.save()


@pytest.mark.parametrize("how", ["shell", "page", "command"])
def test_a_password_change_revokes_every_earlier_token(
    how, browser, user, api_login, client_for, monkeypatch
):
    first, second = api_login(user), api_login(user)
    if how == "shell":
        change_password_in_a_shell(user)
    elif how == "page":
        client_for(user).post(
            "/accounts/password/",
            {
                "old_password": PASSWORD,
                "new_password1": NEW_PASSWORD,
                "new_password2": NEW_PASSWORD,
            },
        )
    else:
        monkeypatch.setattr("getpass.getpass", lambda prompt="": NEW_PASSWORD)
        call_command("changepassword", "alice")
    for pair in (first, second):
        assert not token_works(browser, pair["access"])
        assert refresh_status(browser, pair["refresh"]) == 401
    event = AuditEvent.objects.get(event_type="password_change")
    assert event.metadata["tokens_revoked"] == 2


def test_a_login_in_the_same_second_as_a_revocation_works(browser, user, api_login):
    old = api_login(user)
    change_password_in_a_shell(user)
    # The new token may carry the very same iat as the revocation; its version is current.
    response = post(browser, "/api/v2/auth/login", {"username": "alice", "password": NEW_PASSWORD})
    assert response.status_code == 200
    new = response.json()
    assert claims(new["access"])["ver"] == claims(old["access"])["ver"] + 1
    assert token_works(browser, new["access"])
    assert refresh_status(browser, new["refresh"]) == 200


def test_a_login_right_after_logout_everywhere_works(browser, user, api_login):
    old = api_login(user)
    assert post(browser, "/api/v2/auth/logout-all", access=old["access"]).status_code == 204
    new = api_login(user)
    assert token_works(browser, new["access"])
    assert not token_works(browser, old["access"])


def test_replaying_a_rotated_refresh_token_revokes_its_whole_family(
    browser, user, api_login, events_for
):
    stolen = api_login(user)["refresh"]
    elsewhere = api_login(user)  # another login: another family, untouched
    rotated = post(browser, REFRESH, {"refresh": stolen}).json()

    replay = post(browser, REFRESH, {"refresh": stolen})

    assert replay.status_code == 401
    assert refresh_status(browser, rotated["refresh"]) == 401
    assert refresh_status(browser, elsewhere["refresh"]) == 200
    [event] = events_for(replay)
    assert (event.event_type, event.outcome, event.user_id) == (
        "auth_token_refresh",
        "failure",
        user.pk,
    )
    assert event.metadata["reason"] == "reused"
    assert event.metadata["family"] == claims(stolen)["jti"]
    assert event.metadata["family_revoked"] == 1
