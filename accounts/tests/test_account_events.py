"""Account and privilege changes reach the trail through the admin, commands and a shell."""

import io
import json

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.test import Client

from audit.models import AuditEvent
from audit.tests.fixtures import PASSWORD, drain_sealer

User = get_user_model()
NEW_PASSWORD = "a different horse 77 battery"


def account_events(**filters) -> list[AuditEvent]:
    drain_sealer()
    return list(AuditEvent.objects.filter(category="account", **filters).order_by("sequence"))


def permission(label: str) -> Permission:
    app_label, codename = label.split(".")
    return Permission.objects.get(content_type__app_label=app_label, codename=codename)


def change_form(user, **overrides) -> dict:
    """Return the admin change form's fields for a user, with overrides."""
    data = {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "is_active": "on" if user.is_active else "",
        "is_staff": "on" if user.is_staff else "",
        "is_superuser": "on" if user.is_superuser else "",
        "groups": [str(pk) for pk in user.groups.values_list("pk", flat=True)],
        "user_permissions": [str(pk) for pk in user.user_permissions.values_list("pk", flat=True)],
        "last_login_0": "",
        "last_login_1": "",
        "date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
        "date_joined_1": user.date_joined.strftime("%H:%M:%S"),
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value != ""}


@pytest.fixture
def admin_client(staff, client_for):
    return client_for(staff)


def test_admin_creates_a_user_and_is_named_as_the_actor(admin_client, staff, browser_headers):
    response = admin_client.post(
        "/admin/auth/user/add/",
        {
            "username": "newcomer",
            "usable_password": "true",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
    )
    assert response.status_code == 302, response.content
    created = User.objects.get(username="newcomer")
    [event] = account_events(event_type="user_create", resource_id=str(created.pk))
    assert (event.user_id, event.username) == (staff.pk, "staffer")
    assert (event.resource_type, event.resource_id) == ("user", str(created.pk))
    assert event.ip_address == browser_headers["REMOTE_ADDR"]
    assert event.metadata["target"] == "newcomer"
    assert event.metadata["via"] == "admin"
    assert event.metadata["fields"]["is_superuser"] is False
    # Setting the first password is part of the creation, not a separate change.
    assert account_events(event_type="password_change") == []


def test_admin_edit_records_each_changed_field_and_privilege(admin_client, staff, make_user):
    target = make_user(username="bob")
    auditors = Group.objects.create(name="auditors")
    view_audit = permission("audit.view_auditevent")
    before = AuditEvent.objects.count()

    response = admin_client.post(
        f"/admin/auth/user/{target.pk}/change/",
        change_form(
            target,
            email="bob@example.org",
            is_staff="on",
            is_superuser="on",
            groups=[str(auditors.pk)],
            user_permissions=[str(view_audit.pk)],
        ),
    )

    assert response.status_code == 302, response.content
    events = account_events(event_type="user_update", sequence__gt=before)
    assert {event.username for event in events} == {"staffer"}
    assert {event.resource_id for event in events} == {str(target.pk)}
    merged = {key: value for event in events for key, value in event.metadata.items()}
    assert merged["changes"] == {
        "email": {"old": "", "new": "bob@example.org"},
        "is_staff": {"old": False, "new": True},
        "is_superuser": {"old": False, "new": True},
    }
    assert merged["groups_added"] == ["auditors"]
    assert merged["permissions_added"] == ["audit.view_auditevent"]

    # Taking the privileges back is recorded as removals.
    target.refresh_from_db()
    admin_client.post(
        f"/admin/auth/user/{target.pk}/change/",
        change_form(target, is_superuser="", groups=[], user_permissions=[]),
    )
    latest = {
        key: value
        for event in account_events(event_type="user_update")
        for key, value in event.metadata.items()
    }
    assert latest["changes"]["is_superuser"] == {"old": True, "new": False}
    assert latest["groups_removed"] == ["auditors"]
    assert latest["permissions_removed"] == ["audit.view_auditevent"]


def test_admin_sets_a_password_recorded_as_by_staff_without_the_hash(admin_client, make_user):
    target = make_user(username="bob")
    old_hash = target.password
    response = admin_client.post(
        f"/admin/auth/user/{target.pk}/password/",
        {"usable_password": "true", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert response.status_code == 302, response.content
    target.refresh_from_db()
    [event] = account_events(event_type="password_change")
    assert (event.username, event.resource_id) == ("staffer", str(target.pk))
    assert event.metadata["by"] == "staff"
    assert event.metadata["via"] == "admin"
    trail = json.dumps([e.metadata for e in AuditEvent.objects.all()]) + " ".join(
        AuditEvent.objects.values_list("message", flat=True)
    )
    for secret in (old_hash, target.password, NEW_PASSWORD):
        assert secret not in trail


def test_admin_deletes_a_user(admin_client, make_user):
    target = make_user(username="leaver")
    response = admin_client.post(f"/admin/auth/user/{target.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    [event] = account_events(event_type="user_delete")
    assert (event.username, event.resource_id) == ("staffer", str(target.pk))
    assert event.metadata["target"] == "leaver"


def test_a_user_changing_their_own_password_is_recorded_as_self(client_for, user):
    response = client_for(user).post(
        "/accounts/password/",
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 302
    [event] = account_events(event_type="password_change")
    assert (event.user_id, event.username, event.resource_id) == (user.pk, "alice", str(user.pk))
    assert (event.metadata["by"], event.metadata["via"]) == ("self", "page")


def test_createsuperuser_is_recorded_as_a_command(db, monkeypatch):
    monkeypatch.setattr("sys.argv", ["manage.py", "createsuperuser", "--noinput"])
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", PASSWORD)
    call_command(
        "createsuperuser", interactive=False, username="root", email="", stdout=io.StringIO()
    )
    [event] = account_events(event_type="user_create")
    assert (event.user_id, event.username) == (None, "")
    assert event.resource_id == str(User.objects.get(username="root").pk)
    assert event.metadata["via"] == "command"
    assert event.metadata["command"] == "createsuperuser"
    assert event.metadata["os_user"]
    assert event.metadata["fields"]["is_superuser"] is True


def test_changepassword_is_recorded_as_a_command(user, monkeypatch):
    monkeypatch.setattr("sys.argv", ["manage.py", "changepassword", "alice"])
    # The terminal's hidden prompt is the one thing outside the machine.
    monkeypatch.setattr("getpass.getpass", lambda prompt="": NEW_PASSWORD)
    call_command("changepassword", "alice", stdout=io.StringIO())
    [event] = account_events(event_type="password_change")
    assert (event.username, event.resource_id) == ("", str(user.pk))
    assert (event.metadata["by"], event.metadata["via"]) == ("command", "command")
    assert event.metadata["command"] == "changepassword"


def test_ensure_admin_is_recorded_as_a_command(db, monkeypatch):
    monkeypatch.setattr("sys.argv", ["manage.py", "ensure_admin"])
    call_command("ensure_admin", stdout=io.StringIO())
    [event] = account_events(event_type="user_create")
    assert event.metadata["via"] == "command"
    assert event.metadata["command"] == "ensure_admin"
    assert event.metadata["target"] == "admin"


def test_shell_changes_are_recorded_as_shell(db, monkeypatch):
    monkeypatch.setattr("sys.argv", ["manage.py", "shell"])
    mallory = User.objects.create_user(username="mallory", password=PASSWORD)
    mallory.is_superuser = True
    mallory.save()
    mallory.set_password(NEW_PASSWORD)
    mallory.save()
    mallory.delete()
    events = account_events()
    assert [event.event_type for event in events] == [
        "user_create",
        "user_update",
        "password_change",
        "user_delete",
    ]
    assert {event.metadata["via"] for event in events} == {"shell"}
    assert {event.username for event in events} == {""}
    assert events[1].metadata["changes"] == {"is_superuser": {"old": False, "new": True}}
    assert events[2].metadata["by"] == "shell"


def test_group_lifecycle_is_recorded(db, make_user):
    group = Group.objects.create(name="auditors")
    group.name = "trail readers"
    group.save()
    group.permissions.add(permission("audit.view_auditevent"))
    member = make_user(username="carol")
    group.user_set.add(member)
    group.permissions.remove(permission("audit.view_auditevent"))
    group.delete()
    events = account_events(event_type="group_update")
    assert [event.metadata["action"] for event in events] == [
        "create",
        "rename",
        "permissions",
        "permissions",
        "delete",
    ]
    assert events[1].metadata["changes"] == {"name": {"old": "auditors", "new": "trail readers"}}
    assert events[2].metadata["permissions_added"] == ["audit.view_auditevent"]
    assert events[3].metadata["permissions_removed"] == ["audit.view_auditevent"]
    joined, left = account_events(event_type="user_update", resource_id=str(member.pk))
    assert joined.metadata["groups_added"] == ["trail readers"]
    # Deleting the group took carol out of it.
    assert left.metadata["groups_removed"] == ["trail readers"]


def test_signing_in_is_not_an_account_change(browser, user):
    response = browser.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 302
    assert account_events(sequence__gt=0, resource_id=str(user.pk)) == account_events(
        event_type="user_create"
    )


def test_deleting_a_group_with_members_records_what_each_member_lost(admin_client, make_user):
    # The membership rows go with the group in one cascade, which sends no m2m_changed.
    group = Group.objects.create(name="auditors")
    group.permissions.add(permission("audit.view_auditevent"))
    carol, dave = make_user(username="carol"), make_user(username="dave")
    group.user_set.add(carol, dave)
    response = admin_client.post(f"/admin/auth/group/{group.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    [deleted] = account_events(event_type="group_update", metadata__action="delete")
    assert deleted.metadata["members"] == ["carol", "dave"]
    assert deleted.metadata["permissions"] == ["audit.view_auditevent"]
    for member in (carol, dave):
        lost = account_events(event_type="user_update", resource_id=str(member.pk))[-1]
        assert lost.metadata["groups_removed"] == ["auditors"]
        assert lost.username == "staffer"


def test_setting_the_same_password_again_is_a_password_change(client_for, user, api_login):
    # Someone who fears their password leaked may "change" it to itself; that is a change
    # they asked for, and it must end their API tokens like any other.
    tokens = api_login(user)
    response = client_for(user).post(
        "/accounts/password/",
        {"old_password": PASSWORD, "new_password1": PASSWORD, "new_password2": PASSWORD},
    )
    assert response.status_code == 302
    [event] = account_events(event_type="password_change")
    assert event.metadata["by"] == "self"
    refused = Client().post(
        "/api/v2/auth/refresh", {"refresh": tokens["refresh"]}, content_type="application/json"
    )
    assert refused.status_code == 401


def test_a_hasher_upgrade_at_sign_in_is_not_a_password_change(browser, user, settings):
    # The stored hash is from a retired hasher; signing in re-encodes the same password.
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.MD5PasswordHasher",
    ]
    response = browser.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.password.startswith("pbkdf2_sha256$")
    assert account_events(event_type="password_change") == []


def test_loaddata_making_a_superuser_is_recorded_as_a_command(db, make_user, tmp_path, monkeypatch):
    # loaddata writes accounts like any other command: a fixture is a way in, too.
    mallory = make_user(username="mallory")
    fixture = tmp_path / "accounts.json"
    fixture.write_text(
        json.dumps(
            [
                {
                    "model": "auth.user",
                    "pk": mallory.pk,
                    "fields": {"username": "mallory", "password": "", "is_superuser": True},
                },
                {"model": "auth.user", "pk": 9999, "fields": {"username": "ghost", "password": ""}},
            ]
        )
    )
    monkeypatch.setattr("sys.argv", ["manage.py", "loaddata", str(fixture)])
    call_command("loaddata", str(fixture), verbosity=0)
    update, create = account_events(event_type__in=["user_update", "user_create"])
    assert update.metadata["changes"]["is_superuser"] == {"old": False, "new": True}
    assert (update.metadata["via"], update.metadata["command"]) == ("command", "loaddata")
    assert (create.metadata["target"], create.resource_id) == ("ghost", "9999")
