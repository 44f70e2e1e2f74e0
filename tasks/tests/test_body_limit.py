"""Oversized bodies are refused before CSRF or a view parses them."""

import io
from pathlib import Path

import pytest
from django.template.defaultfilters import filesizeformat
from django.test import Client

from audit.models import AuditEvent
from tasks.models import OcrTask


def big_multipart(size: int) -> dict:
    return {"file": io.BytesIO(b"\x89PNG\r\n\x1a\n" + b"0" * size)}


@pytest.fixture
def limits(settings):
    settings.OCR_MAX_FILE_BYTES = 10_000
    settings.OCR_MAX_FILES_PER_REQUEST = 2
    return settings


@pytest.mark.django_db
def test_upload_page_body_over_the_limit_is_413_before_csrf_reads_it(limits, user, stored_files):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)

    # No CSRF token: had anything parsed the body first, this would be a 403.
    response = client.post("/tasks/upload/", big_multipart(1024 * 1024 + 30_000))

    assert response.status_code == 413
    assert "limited to 2 files of 9.8\N{NO-BREAK SPACE}KB" in response.content.decode()
    assert stored_files() == []
    assert not OcrTask.objects.exists()
    event = AuditEvent.objects.get(event_type="file_upload")
    assert (event.outcome, event.user_id, event.metadata["reason"]) == (
        "failure",
        user.pk,
        "too_large",
    )


@pytest.mark.django_db
def test_api_upload_body_over_the_limit_is_a_json_413(limits, api_login, user, client):
    access = api_login(user)["access"]

    response = client.post(
        "/api/v2/tasks", big_multipart(1024 * 1024 + 30_000), HTTP_AUTHORIZATION=f"Bearer {access}"
    )

    assert response.status_code == 413
    assert "limited to 2 files" in response.json()["detail"]


@pytest.mark.django_db
def test_any_other_post_with_a_huge_body_is_413(client, settings):
    body = "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 100_000)

    response = client.post("/api/v2/auth/login", body, content_type="application/json")

    assert response.status_code == 413
    assert "limit here is" in response.json()["detail"]


@pytest.mark.django_db
def test_a_body_within_the_limits_reaches_the_view(client, user):
    response = client.post(
        "/api/v2/auth/login",
        {"username": user.username, "password": "wrong"},
        content_type="application/json",
    )

    assert response.status_code == 401


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "content_type"),
    [
        ("/api/v2/auth/login", "application/json"),
        ("/api/v2/auth/refresh", "application/json"),
        ("/accounts/login/", "application/x-www-form-urlencoded"),
    ],
)
def test_a_body_just_over_the_data_limit_is_413_not_a_parser_error(
    client, settings, url, content_type
):
    # Django itself refuses such a body when the view reads it, with its HTML 400 page.
    body = "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)

    response = client.post(url, body, content_type=content_type)

    assert response.status_code == 413
    detail = response.json()["detail"] if url.startswith("/api/") else response.content.decode()
    assert f"the limit here is {filesizeformat(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)}." in detail


@pytest.mark.django_db
def test_api_upload_over_the_limit_is_attributed_to_the_token_user(limits, api_login, user, client):
    access = api_login(user)["access"]
    response = client.post(
        "/api/v2/tasks", big_multipart(1024 * 1024 + 30_000), HTTP_AUTHORIZATION=f"Bearer {access}"
    )
    assert response.status_code == 413
    event = AuditEvent.objects.get(event_type="file_upload")
    assert (event.user_id, event.username) == (user.pk, "alice")


@pytest.mark.django_db
@pytest.mark.parametrize("size", [1000, 300_000_000])
@pytest.mark.parametrize(
    ("path", "headers", "status"),
    [
        ("/api/v2/tasks", {}, 401),
        ("/api/v2/tasks", {"HTTP_AUTHORIZATION": "Bearer not.a.token"}, 401),
        ("/tasks/upload/", {}, 302),
    ],
)
def test_an_anonymous_upload_is_refused_unread_and_unrecorded(
    limits, settings, path, headers, status, size
):
    client = Client(enforce_csrf_checks=True)
    # A declared length larger than the body: nothing may wait to read that much.
    declared = {"CONTENT_LENGTH": str(size)} if size > 1000 else {}
    response = client.post(path, big_multipart(1000), **declared, **headers)
    assert response.status_code == status
    if status == 302:
        assert response["Location"].startswith("/accounts/login/")
    assert not AuditEvent.objects.exists()
    assert list(Path(settings.FILE_UPLOAD_TEMP_DIR).iterdir()) == []
