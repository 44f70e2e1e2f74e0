"""Listing user accounts is a staff action, and an audited one."""

from audit.tests.fixtures import event_fields, request_id

API = "/api/v2/admin/users"
ADMIN = "/admin/auth/user/"
USER_KEYS = {
    "id",
    "username",
    "email",
    "first_name",
    "last_name",
    "is_active",
    "is_staff",
    "is_superuser",
    "date_joined",
    "last_login",
}
BROWSER = {"ip_address": "203.0.113.7", "user_agent": "pytest-browser/1.0"}


def test_admin_user_changelist_is_recorded(client_for, staff, user, only_event):
    response = client_for(staff).get(ADMIN)
    assert response.status_code == 200
    assert "alice" in response.content.decode()
    assert event_fields(only_event(response)) == {
        "event_type": "admin_view_users",
        "category": "admin",
        "outcome": "success",
        "user_id": staff.pk,
        "username": "staffer",
        **BROWSER,
        "request_id": request_id(response),
        "resource_type": "user",
        "resource_id": "",
        "message": "",
        "metadata": {"surface": "admin", "filters": {}},
    }


def test_admin_user_search_is_recorded_with_its_filters(client_for, staff, user, only_event):
    response = client_for(staff).get(ADMIN, {"q": "alice", "is_staff__exact": "0"})
    assert [u.username for u in response.context["cl"].result_list] == ["alice"]
    assert only_event(response).metadata == {
        "surface": "admin",
        "filters": {"q": "alice", "is_staff__exact": "0"},
    }


def test_api_user_list_is_recorded(client_for, staff, user, only_event):
    response = client_for(staff).get(API)
    assert response.status_code == 200
    results = response.json()["results"]
    # Oldest account first.
    assert [(row["id"], row["username"]) for row in results] == sorted(
        [(user.pk, "alice"), (staff.pk, "staffer")]
    )
    # Exactly the documented fields: never the password hash.
    assert all(set(row) == USER_KEYS for row in results)
    assert "pbkdf2" not in response.content.decode() and "md5$" not in response.content.decode()
    assert event_fields(only_event(response)) == {
        "event_type": "admin_view_users",
        "category": "admin",
        "outcome": "success",
        "user_id": staff.pk,
        "username": "staffer",
        **BROWSER,
        "request_id": request_id(response),
        "resource_type": "user",
        "resource_id": "",
        "message": "",
        "metadata": {"surface": "api", "page": "1"},
    }


def test_api_user_list_accepts_a_staff_bearer_token(api_login, staff, client, events_for):
    access = api_login(staff)["access"]
    response = client.get(API, HTTP_AUTHORIZATION=f"Bearer {access}")
    assert response.status_code == 200
    assert [event.event_type for event in events_for(response)] == ["admin_view_users"]


def test_non_staff_cannot_list_users_and_only_the_refusal_is_recorded(
    client_for, user, only_event, events_for
):
    response = client_for(user).get(API)
    assert response.status_code == 403
    refusal = only_event(response)
    assert (refusal.event_type, refusal.username) == ("access_denied", "alice")
    assert refusal.metadata["permission"] == "auth.view_user"
    admin = client_for(user).get(ADMIN)
    assert admin.status_code == 302
    assert [event.event_type for event in events_for(admin)] == ["access_denied"]


def test_anonymous_callers_get_401(browser, db, events_for):
    response = browser.get(API)
    assert response.status_code == 401
    assert events_for(response) == []


def test_api_user_without_an_address_has_email_null(client_for, staff, user):
    user.email = ""
    user.save(update_fields=["email"])
    staff.email = "staff@example.com"
    staff.save(update_fields=["email"])
    rows = {row["username"]: row for row in client_for(staff).get(API).json()["results"]}
    # null, not "": the schema says `format: email, nullable`, and "" is no address.
    assert rows["alice"]["email"] is None
    assert rows["staffer"]["email"] == "staff@example.com"
