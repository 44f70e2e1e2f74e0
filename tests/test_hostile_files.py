"""Hostile files: whatever a small upload contains, the request's check stays cheap.

The upload check parses (page tree, page sizes) and never draws a PDF page; drawing
happens in a child process with a time and memory limit (tasks.ocr.render). Each file
is refused with 400, or accepted and then failed (or read) cleanly by the worker, and
nothing is left behind. Outcomes only: timings belong in bench/.
"""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from tasks.models import OcrTask, Status
from tasks.tests import samples

API_TASKS = "/api/v2/tasks"


@pytest.fixture
def run_worker():
    """Run the real django-tasks-db worker until the queue is empty."""

    def run() -> None:
        call_command("ocr_worker", "--batch", "--no-startup-delay", "--no-reload", verbosity=0)

    return run


def upload(client, data: bytes, name: str):
    return client.post(
        API_TASKS, {"file": [SimpleUploadedFile(name, data, "application/octet-stream")]}
    )


def settled(response, stored_files, run_worker):
    """Return the task (None when the upload was refused) and the files it does not own."""
    if response.status_code == 400:
        assert not OcrTask.objects.exists()
        return None, stored_files()
    assert response.status_code == 201, response.content
    run_worker()
    task = OcrTask.objects.get()
    outputs = {task.file.name, task.searchable_pdf.name}
    return task, [name for name in stored_files() if name not in outputs]


@pytest.mark.django_db(transaction=True)
def test_content_stream_bomb_is_accepted_by_a_parse_and_failed_by_the_drawing_limit(
    settings, user, client_for, stored_files, run_worker
):
    settings.OCR_RENDER_TIMEOUT_SECONDS = 2
    client = client_for(user)
    bomb = samples.content_stream_bomb_pdf_bytes()
    assert len(bomb) < 300_000

    response = upload(client, bomb, "bomb.pdf")

    # The check read the page tree only; the 100 MB of operators were never inflated.
    assert response.status_code == 201
    preview = client.get(f"/tasks/{response.json()[0]['id']}/pages/1.png")
    assert preview.status_code == 404  # the preview's drawing hit its limit, in a child
    task, left = settled(response, stored_files, run_worker)
    assert task.status == Status.FAILED
    assert task.error == "Page 1 takes longer than 2 seconds to draw."
    assert left == []


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("name", "build"),
    [
        ("inline.pdf", samples.inline_image_bomb_pdf_bytes),
        ("nested.pdf", samples.nested_pdf_bytes),
        ("strip.tiff", samples.huge_strip_tiff_bytes),
    ],
)
def test_hostile_file_is_refused_or_ends_cleanly_leaving_nothing(
    name, build, settings, user, client_for, stored_files, run_worker
):
    settings.OCR_RENDER_TIMEOUT_SECONDS = 5
    settings.OCR_RENDER_MEMORY_MB = 1024

    task, left = settled(upload(client_for(user), build(), name), stored_files, run_worker)

    assert left == []
    if task is not None:
        assert task.status in (Status.FAILED, Status.COMPLETED)
        assert task.status == Status.COMPLETED or task.error
