"""Files: served only to their owner, as attachments, with the type their bytes proved."""

import pytest
from django.test import Client

from tasks.models import OcrTask, Status

from . import samples
from .conftest import upload_file

pytestmark = pytest.mark.django_db

PAGE = samples.make_text_image(samples.KNOWN_WORDS)
PNG = samples.encode_image(PAGE, format="PNG")
JPEG = samples.encode_image(PAGE, format="JPEG")
PDF = samples.text_pdf_bytes([samples.TEXT_LAYER_LINES])
HTML = b"<html><body><script>alert(document.cookie)</script></body></html>"


@pytest.fixture
def task(user, make_task):
    return make_task(user, upload_file(PNG, "scan.png"))


@pytest.fixture
def completed(task):
    OcrTask.objects.filter(pk=task.pk).update(
        status=Status.COMPLETED, pages_done=1, result_text="<script>alert(1)</script> text"
    )
    task.refresh_from_db()
    return task


def urls(task) -> dict[str, str]:
    base = f"/tasks/{task.pk}"
    return {
        "original": f"{base}/original/",
        "page-image": f"{base}/pages/1.png",
        "download-txt": f"{base}/download.txt",
        "download-json": f"{base}/download.json",
        "download-hocr": f"{base}/download.hocr",
        "download-alto": f"{base}/download.alto",
        "detail": f"{base}/",
        "api-detail": f"/api/v2/tasks/{task.pk}",
        "api-result": f"/api/v2/tasks/{task.pk}/result?format=txt",
        "api-result-hocr": f"/api/v2/tasks/{task.pk}/result?format=hocr",
        "api-result-alto": f"/api/v2/tasks/{task.pk}/result?format=alto",
    }


RESOURCES = list(urls(OcrTask(pk="00000000-0000-0000-0000-000000000000")))


@pytest.mark.parametrize("resource", RESOURCES)
def test_the_owner_gets_every_file_of_their_task(client_for, user, completed, resource):
    response = client_for(user).get(urls(completed)[resource])

    assert response.status_code == 200


@pytest.mark.parametrize("resource", RESOURCES)
@pytest.mark.parametrize("who", ["other-user", "staff"])
def test_anyone_else_gets_404_even_staff(client_for, make_user, completed, who, resource):
    # Staff see tasks in the admin; the documents themselves are the owner's alone, and a
    # 404 does not even confirm that the task exists.
    other = make_user(username="mallory") if who == "other-user" else make_user(staff=True)

    response = client_for(other).get(urls(completed)[resource])

    assert response.status_code == 404


@pytest.mark.parametrize("resource", RESOURCES)
def test_anonymous_callers_get_nothing(completed, resource):
    response = Client().get(urls(completed)[resource])

    assert response.status_code in (302, 401)
    if response.status_code == 302:
        assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize(
    ("resource", "content_type"),
    [
        ("original", "image/png"),
        ("download-txt", "text/plain; charset=utf-8"),
        ("download-json", "application/json"),
        ("download-hocr", "application/xhtml+xml; charset=utf-8"),
        ("download-alto", "application/xml; charset=utf-8"),
        ("api-result-alto", "application/xml; charset=utf-8"),
        ("api-result", "text/plain; charset=utf-8"),
    ],
)
def test_downloads_are_attachments_with_nosniff(
    client_for, user, completed, resource, content_type
):
    response = client_for(user).get(urls(completed)[resource])

    assert response.status_code == 200
    assert response["Content-Type"] == content_type
    assert response["Content-Disposition"].startswith("attachment; filename=")
    assert response["X-Content-Type-Options"] == "nosniff"


def test_page_image_is_a_private_png_with_nosniff(client_for, user, completed):
    response = client_for(user).get(urls(completed)["page-image"])

    assert response["Content-Type"] == "image/png"
    assert response.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == "private, max-age=3600"


def test_page_image_of_a_task_not_yet_read_is_not_cached(client_for, user, task):
    # Once read, a turned page is served upright at this URL: the browser must ask again.
    response = client_for(user).get(urls(task)["page-image"])

    assert task.status == Status.QUEUED
    assert response.status_code == 200
    assert response["Cache-Control"] == "private, no-store"


@pytest.mark.parametrize(
    ("data", "name", "content_type", "download_name"),
    [
        (PNG, "scan.png", "image/png", "scan.png"),
        (JPEG, "photo.jpeg", "image/jpeg", "photo.jpeg"),
        (PDF, "report.pdf", "application/pdf", "report.pdf"),
        (PNG, "page.html", "image/png", "page.html.png"),
        (PNG + HTML, "poly.htm", "image/png", "poly.htm.png"),
        (JPEG, "photo.svg", "image/jpeg", "photo.svg.jpg"),
        (PDF, "invoice", "application/pdf", "invoice.pdf"),
    ],
    ids=["png", "jpeg", "pdf", "png-named-html", "polyglot", "jpeg-named-svg", "no-extension"],
)
def test_original_is_served_with_its_detected_type_and_a_matching_extension(
    client_for, user, make_task, data, name, content_type, download_name
):
    # Whatever the client called it, a browser (or a double-click on the saved file)
    # must treat the original as the type its bytes proved, never as a page.
    task = make_task(user, upload_file(data, name))

    response = client_for(user).get(urls(task)["original"])

    assert response["Content-Type"] == content_type
    assert "html" not in response["Content-Type"]
    assert response["Content-Disposition"] == f'attachment; filename="{download_name}"'
    assert b"".join(response.streaming_content) == data


def test_escaped_name_stays_escaped_in_the_download_header(client_for, user, make_task):
    task = make_task(user, upload_file(PNG, 'a"b\r\n\u202ec.png'))

    response = client_for(user).get(urls(task)["original"])

    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "\r" not in disposition and "\n" not in disposition and "\u202e" not in disposition


def test_task_deleted_files_are_gone_for_the_owner_too(
    client_for, user, task, django_capture_on_commit_callbacks
):
    client = client_for(user)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/tasks/{task.pk}/delete/")

    assert client.get(urls(task)["original"]).status_code == 404
    assert client.get(urls(task)["page-image"]).status_code == 404
