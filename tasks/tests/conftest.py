import itertools
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from audit.models import AuditEvent
from audit.tests.fixtures import drain_sealer
from tasks.models import OcrTask, Status
from tasks.services.creation import task_create_batch
from tasks.worker.processing import process_task

from .samples import KNOWN_WORDS, encode_image, make_text_image

API_TASKS = "/api/v2/tasks"

_row_numbers = itertools.count(1)


@pytest.fixture(autouse=True)
def own_storage(media_root):
    """Give each test its own empty storage so files can be counted exactly."""
    return media_root


def upload_file(data: bytes, name: str = "scan.png") -> SimpleUploadedFile:
    """Return an upload with a client-chosen name; the content type is deliberately generic."""
    return SimpleUploadedFile(name, data, content_type="application/octet-stream")


@pytest.fixture
def png_upload():
    def make(words=("invoice", "total", "amount"), name="scan.png") -> SimpleUploadedFile:
        data = encode_image(make_text_image(list(words)), format="PNG")
        return upload_file(data, name)

    return make


@pytest.fixture
def run_worker():
    """Run the real django-tasks-db worker until the queue is empty."""
    from django.core.management import call_command

    def run() -> None:
        call_command("ocr_worker", "--batch", "--no-startup-delay", "--no-reload", verbosity=0)

    return run


@pytest.fixture
def api_upload():
    """POST files (and form fields) to the task API; return the response."""

    def post(client: Client, *files: SimpleUploadedFile, **fields: str):
        return client.post(API_TASKS, {"file": list(files), **fields})

    return post


@pytest.fixture
def make_task(png_upload):
    """Create a queued task for `owner` through the upload service, file and all."""

    def make(owner, upload: SimpleUploadedFile | None = None, **options) -> OcrTask:
        [task] = task_create_batch(
            owner=owner, uploads=[upload or png_upload(KNOWN_WORDS)], **options
        )
        return task

    return make


@pytest.fixture
def processed():
    """Run OCR on a task in this process (no worker) and return it refreshed."""

    def run(task: OcrTask) -> OcrTask:
        process_task(task_id=task.pk)
        task.refresh_from_db()
        return task

    return run


@pytest.fixture
def make_task_row(db):
    """Create a task row with no file behind it, for listing and filtering tests."""

    def make(owner, *, age: timedelta = timedelta(0), **fields) -> OcrTask:
        number = next(_row_numbers)
        values = {
            "original_name": f"row-{number}.png",
            "file": f"uploads/2000/01/{number:032x}.png",
            "content_type": "image/png",
            "size": 100,
            "sha256": "0" * 64,
            "page_count": 1,
            "engine": "tesseract",
            "language": "eng",
            "status": Status.QUEUED,
            **fields,
        }
        task = OcrTask.objects.create(owner=owner, **values)
        if age:
            # created_at is auto_now_add: only an update can move it into the past.
            OcrTask.objects.filter(pk=task.pk).update(created_at=timezone.now() - age)
            task.refresh_from_db()
        return task

    return make


@pytest.fixture
def audit_events(db):
    """Return the audit events of a type (optionally about one resource), sealed, oldest first.

    The sealer is drained first (tests seal in the background, as production does), so
    each event has its sequence and links.
    """

    def events(event_type: str, *, resource_id=None, **filters) -> list[AuditEvent]:
        drain_sealer()
        found = AuditEvent.objects.filter(event_type=event_type, **filters)
        if resource_id is not None:
            found = found.filter(resource_id=str(resource_id))
        return list(found.order_by("sequence"))

    return events


@pytest.fixture
def other_user(make_user):
    return make_user(username="mallory")


@pytest.fixture
def page_client(user, client_for) -> Client:
    """Return a test client logged in as the user who owns the tasks."""
    return client_for(user)
