"""Error pages: styled, translated, with a way back; JSON for every error under /api/."""

import json as json_module
import uuid

import pytest
from django.test import Client
from django.utils import translation

from audit.tests.fixtures import PASSWORD
from ocr_project.error_pages import wait_in_words

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_cache")]


def body(response) -> str:
    return response.content.decode()


def test_unknown_page_is_the_site_layout_with_a_way_back(user, client_for):
    response = client_for(user).get("/tasks/00000000-0000-0000-0000-000000000000/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    page = body(response)
    assert '<header class="topbar">' in page
    assert "Page not found" in page
    assert 'href="/"' in page


def test_404_page_is_in_the_visitors_language():
    response = Client().get("/no-such-page/", HTTP_ACCEPT_LANGUAGE="zh-hans")

    assert response.status_code == 404
    assert '<html lang="zh-hans">' in body(response)
    assert "页面不存在" in body(response)


def test_403_page_for_a_staff_page_without_permission(make_user, client_for):
    # Staff without any permission: the admin refuses the audit list with PermissionDenied.
    clerk = make_user(username="clerk", staff=True)
    response = client_for(clerk).get("/admin/audit/auditevent/")

    assert response.status_code == 403
    page = body(response)
    assert '<header class="topbar">' in page
    assert "Access denied" in page
    assert 'href="/"' in page


def test_lockout_page_says_how_long_and_what_to_do(staff, settings):
    client = Client(REMOTE_ADDR="198.51.100.7")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        response = client.post(
            "/accounts/login/", {"username": staff.username, "password": "wrong"}
        )

    assert response.status_code == 429
    assert response["Retry-After"] == "900"
    page = body(response)
    assert '<header class="topbar">' in page
    assert "Please wait 15\xa0minutes, then try again." in page
    assert 'href="/accounts/login/"' in page


def test_lockout_page_in_chinese(staff, settings):
    client = Client(REMOTE_ADDR="198.51.100.8", HTTP_ACCEPT_LANGUAGE="zh-hans")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        response = client.post(
            "/accounts/login/", {"username": staff.username, "password": PASSWORD + "x"}
        )

    assert response.status_code == 429
    page = body(response)
    assert "尝试次数过多" in page
    assert "15\xa0分钟" in page


@pytest.mark.parametrize(
    ("seconds", "words"),
    [(1, "1 second"), (45, "45 seconds"), (60, "1\xa0minute"), (61, "2\xa0minutes")],
)
def test_wait_in_words_rounds_up_to_the_minute(seconds, words):
    with translation.override("en"):
        assert wait_in_words(seconds) == words


@pytest.mark.parametrize(
    "path",
    [
        "/api/v2/admin/audit-logs/",
        "/api/v2/no-such-thing",
        "/api/nothing/here/",
    ],
)
def test_every_api_404_is_json(staff, client_for, path):
    response = client_for(staff).get(path)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "not_found"


def test_api_trailing_slash_mistake_names_the_right_path(staff, client_for):
    response = client_for(staff).get("/api/v2/admin/audit-logs/")

    assert response.json()["detail"] == "Not found. Did you mean /api/v2/admin/audit-logs?"


def test_api_method_not_allowed_on_an_html_page_is_json(user, client_for):
    response = client_for(user).delete("/api/docs/")

    assert response.status_code == 405
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "method_not_allowed"


def test_api_views_refusals_carry_a_code(make_user, client_for, client):
    staff_without_permissions = make_user(username="plainstaff", staff=True)
    anonymous = client.get("/api/v2/tasks")
    forbidden = client_for(staff_without_permissions).get("/api/v2/admin/audit-logs")
    missing = client_for(staff_without_permissions).get(f"/api/v2/tasks/{uuid.uuid4()}")

    assert anonymous.status_code == 401
    assert anonymous.json()["code"] == "not_authenticated"
    assert forbidden.status_code == 403
    assert forbidden.json() == {
        "detail": "You do not have permission to perform this action.",
        "code": "permission_denied",
    }
    assert missing.status_code == 404
    assert missing.json()["code"] == "not_found"


@pytest.mark.parametrize(("path", "json"), [("/tasks/", False), ("/api/v2/tasks", True)])
def test_500_answer_needs_no_database_and_keeps_the_layout(rf, path, json):
    from ocr_project.error_pages import server_error

    response = server_error(rf.get(path))

    assert response.status_code == 500
    if json:
        assert json_module.loads(response.content)["code"] == "server_error"
    else:
        assert '<header class="topbar">' in body(response)
        assert "Something went wrong on our side" in body(response)


def test_a_form_sent_without_its_csrf_token_gets_the_styled_403(user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)

    response = client.post("/accounts/logout-all/")

    assert response.status_code == 403
    page = body(response)
    assert '<header class="topbar">' in page
    assert "reload the page and send it again" in page
