"""Every single download is on the record: one task_download per file handed out.

The page (/tasks/<id>/download.<fmt>, /tasks/<id>/original/) and the API
(/api/v2/tasks/<id>/result?format=) serve the same files through tasks.web.downloads,
which records the event before the first byte goes; a download that fails records no
success, and another user's task is a 404 recorded as access_denied.
"""

import pytest

from accounts.api_tokens.services import api_token_create
from audit.events import Outcome
from audit.models import AuditEvent
from tasks.models import OcrTask, Status

from . import samples
from .conftest import upload_file
from .test_events import AGENT, IP, fields

pytestmark = pytest.mark.django_db

PNG = samples.encode_image(samples.make_text_image(samples.KNOWN_WORDS), format="PNG")
TEXT = "Harbour tides\nRésumé 17 €"
TEXT_FORMATS = ["txt", "json", "hocr", "alto"]


def body_of(response) -> bytes:
    if response.streaming:
        return b"".join(response.streaming_content)
    return response.content


def assert_download_event(event: AuditEvent, *, user, task, response, metadata: dict) -> None:
    """Assert every field a compliance officer reads off one task_download."""
    assert fields(event, "event_type", "category", "outcome") == (
        "task_download",
        "task",
        Outcome.SUCCESS,
    )
    assert fields(event, "user", "username", "ip_address", "user_agent") == (
        user,
        user.username,
        IP,
        AGENT,
    )
    assert event.request_id and event.request_id == response["X-Request-ID"]
    assert (event.resource_type, event.resource_id) == ("task", str(task.pk))
    assert event.metadata == metadata


@pytest.fixture
def completed_row(user, make_task_row):
    """A completed task with a text and no pages or files: enough for the text formats."""
    return make_task_row(
        user, original_name="harbour.png", status=Status.COMPLETED, result_text=TEXT, page_count=2
    )


@pytest.fixture
def read_task(user, make_task, processed):
    """A task read by the real OCR engine: pages, words and a stored searchable PDF."""
    task = processed(make_task(user, upload_file(PNG, "invoice.png")))
    assert task.status == Status.COMPLETED and task.searchable_pdf
    return task


# --- The page ----------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", TEXT_FORMATS)
def test_a_page_download_of_a_text_format_records_one_task_download(
    page_client, user, completed_row, audit_events, fmt
):
    response = page_client.get(f"/tasks/{completed_row.pk}/download.{fmt}")

    assert response.status_code == 200
    [event] = audit_events("task_download")
    assert_download_event(
        event,
        user=user,
        task=completed_row,
        response=response,
        metadata={
            "via": "page",
            "format": fmt,
            "filename": "harbour.png",
            "size": len(body_of(response)),
            "pages": 2,
        },
    )
    if fmt == "txt":
        assert event.metadata["size"] == len(TEXT.encode())


def test_a_page_download_of_the_searchable_pdf_records_its_stored_size(
    page_client, user, read_task, audit_events
):
    response = page_client.get(f"/tasks/{read_task.pk}/download.pdf")

    data = body_of(response)
    assert response.status_code == 200 and data.startswith(b"%PDF")
    [event] = audit_events("task_download")
    assert_download_event(
        event,
        user=user,
        task=read_task,
        response=response,
        metadata={
            "via": "page",
            "format": "pdf",
            "filename": "invoice.png",
            "size": len(data),
            "pages": 1,
        },
    )


def test_a_page_download_of_the_original_records_one_task_download(
    page_client, user, make_task, audit_events
):
    task = make_task(user, upload_file(PNG, "scan.png"))

    response = page_client.get(f"/tasks/{task.pk}/original/")

    assert body_of(response) == PNG
    [event] = audit_events("task_download")
    assert_download_event(
        event,
        user=user,
        task=task,
        response=response,
        metadata={
            "via": "page",
            "format": "original",
            "filename": "scan.png",
            "size": len(PNG),
            "pages": 1,
            "content_type": "image/png",
        },
    )


def test_each_download_is_its_own_event(page_client, user, completed_row, audit_events):
    for _ in range(2):
        assert page_client.get(f"/tasks/{completed_row.pk}/download.txt").status_code == 200

    events = audit_events("task_download")
    assert len(events) == 2
    assert len({event.request_id for event in events}) == 2


# --- The API -----------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", TEXT_FORMATS)
def test_an_api_result_in_a_text_format_records_one_task_download(
    client_for, user, completed_row, audit_events, fmt
):
    # The caller's own request id rides along as metadata.client_request_id.
    response = client_for(user).get(
        f"/api/v2/tasks/{completed_row.pk}/result",
        {"format": fmt},
        HTTP_X_REQUEST_ID="integrator-42",
    )

    assert response.status_code == 200
    [event] = audit_events("task_download")
    assert_download_event(
        event,
        user=user,
        task=completed_row,
        response=response,
        metadata={
            "via": "api",
            "format": fmt,
            "filename": "harbour.png",
            "size": len(body_of(response)),
            "pages": 2,
            "client_request_id": "integrator-42",
        },
    )


def test_an_api_result_defaults_to_json_and_records_that(
    client_for, user, completed_row, audit_events
):
    response = client_for(user).get(f"/api/v2/tasks/{completed_row.pk}/result")

    assert response["Content-Type"] == "application/json"
    [event] = audit_events("task_download")
    assert (event.metadata["via"], event.metadata["format"]) == ("api", "json")
    assert event.metadata["size"] == len(response.content)


def test_an_api_searchable_pdf_records_one_task_download(client_for, user, read_task, audit_events):
    response = client_for(user).get(f"/api/v2/tasks/{read_task.pk}/result", {"format": "pdf"})

    data = body_of(response)
    assert response.status_code == 200 and data.startswith(b"%PDF")
    [event] = audit_events("task_download")
    assert_download_event(
        event,
        user=user,
        task=read_task,
        response=response,
        metadata={
            "via": "api",
            "format": "pdf",
            "filename": "invoice.png",
            "size": len(data),
            "pages": 1,
        },
    )


def test_an_api_download_with_a_bearer_token_names_the_tokens_user(
    browser, user, completed_row, audit_events
):
    issued = api_token_create(
        user=user, name="export", scopes=["tasks:read"], days=1, actor=None, via="command"
    )

    response = browser.get(
        f"/api/v2/tasks/{completed_row.pk}/result",
        {"format": "txt"},
        HTTP_AUTHORIZATION=f"Bearer {issued.text}",
    )

    assert response.status_code == 200
    [event] = audit_events("task_download")
    assert (event.user, event.username, event.metadata["via"]) == (user, "alice", "api")
    assert event.request_id == response["X-Request-ID"]


# --- Refused and failed downloads record no success ---------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "download.exe",  # not a format
        "download.pdf",  # no searchable PDF was built for it
    ],
)
def test_a_page_download_that_is_not_available_records_nothing(
    page_client, completed_row, audit_events, path
):
    response = page_client.get(f"/tasks/{completed_row.pk}/{path}")

    assert response.status_code == 404
    assert audit_events("task_download") == []


def test_a_head_request_for_a_result_is_refused_and_records_no_download(
    client_for, user, completed_row, audit_events
):
    """HEAD sends no body, so it must not be recorded as a download (DRF maps it to GET)."""
    response = client_for(user).head(f"/api/v2/tasks/{completed_row.pk}/result")

    assert response.status_code == 405
    assert audit_events("task_download") == []


@pytest.mark.parametrize("fmt", ["txt", "pdf"])
def test_a_result_of_an_unfinished_task_records_nothing(
    page_client, client_for, user, make_task_row, audit_events, fmt
):
    task = make_task_row(user, status=Status.PROCESSING)

    page = page_client.get(f"/tasks/{task.pk}/download.{fmt}")
    api = client_for(user).get(f"/api/v2/tasks/{task.pk}/result", {"format": fmt})

    assert (page.status_code, api.status_code) == (404, 404)
    assert audit_events("task_download") == []


def test_a_searchable_pdf_missing_from_storage_records_nothing(
    page_client, client_for, user, read_task, audit_events
):
    read_task.searchable_pdf.storage.delete(read_task.searchable_pdf.name)

    page = page_client.get(f"/tasks/{read_task.pk}/download.pdf")
    api = client_for(user).get(f"/api/v2/tasks/{read_task.pk}/result", {"format": "pdf"})

    assert (page.status_code, api.status_code) == (404, 404)
    assert api.json()["detail"] == "The searchable PDF is missing from storage."
    assert audit_events("task_download") == []


def test_an_original_missing_from_storage_records_nothing(
    page_client, user, make_task_row, audit_events
):
    # A row whose file was never stored (or is gone): 404, and no download on record.
    task = make_task_row(user, status=Status.COMPLETED)

    assert page_client.get(f"/tasks/{task.pk}/original/").status_code == 404
    assert audit_events("task_download") == []


def test_another_users_downloads_are_404_recorded_as_access_denied_only(
    client_for, user, other_user, make_task, audit_events
):
    theirs = make_task(other_user, upload_file(PNG, "theirs.png"))
    OcrTask.objects.filter(pk=theirs.pk).update(status=Status.COMPLETED, result_text="secret")
    client = client_for(user)
    paths = [
        f"/tasks/{theirs.pk}/download.txt",
        f"/tasks/{theirs.pk}/download.pdf",
        f"/tasks/{theirs.pk}/original/",
        f"/api/v2/tasks/{theirs.pk}/result",
    ]

    statuses = [client.get(path).status_code for path in paths]

    assert statuses == [404] * len(paths)
    assert audit_events("task_download") == []
    refusals = audit_events("access_denied")
    assert [event.metadata["path"] for event in refusals] == paths
    for event in refusals:
        assert fields(event, "outcome", "user", "username", "ip_address") == (
            Outcome.FAILURE,
            user,
            "alice",
            IP,
        )
        assert (event.resource_type, event.resource_id) == ("task", str(theirs.pk))
        assert event.metadata["status"] == 404
