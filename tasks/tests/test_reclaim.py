"""Tasks orphaned by a dead worker are taken back: requeued, or failed after the last attempt."""

import io
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from audit.events import Outcome
from tasks.models import OcrPage, OcrTask, Status
from tasks.services import WorkerLost
from tasks.services.reclaim import reclaim_stale_tasks
from tasks.worker.processing import claim

from . import samples
from .conftest import API_TASKS
from .samples import words_in

worker_db = pytest.mark.django_db(transaction=True)


@pytest.fixture
def orphaned(settings, make_task):
    """Return a task a killed worker left `processing`, one page in, its job never to return."""

    def make(
        owner,
        *,
        attempts: int = 1,
        silent_for: timedelta = timedelta(hours=1),
        upload: SimpleUploadedFile | None = None,
    ) -> OcrTask:
        task = make_task(owner, upload)
        # The job was taken by the worker that died: no worker will ever pick it up again.
        DBTaskResult.objects.update(status="RUNNING")
        heartbeat = timezone.now() - silent_for
        OcrTask.objects.filter(pk=task.pk).update(
            status=Status.PROCESSING,
            attempts=attempts,
            pages_done=1,
            started_at=heartbeat,
            heartbeat_at=heartbeat,
        )
        # The page it stored before it died, read by its attempt.
        OcrPage.objects.create(task=task, index=0, text="half-read", source="ocr", attempt=attempts)
        task.refresh_from_db()
        return task

    return make


@worker_db
def test_stale_task_is_requeued_and_then_completes(user, orphaned, run_worker, audit_events):
    task = orphaned(user)
    # django-tasks-db's own worker runs jobs and nothing else: nothing picks the task up
    # by itself (ocr_worker would reclaim it at start; this test reclaims by hand).
    call_command("db_worker", "--batch", "--no-startup-delay", "--no-reload", verbosity=0)
    task.refresh_from_db()
    assert task.status == Status.PROCESSING

    stats = reclaim_stale_tasks()

    assert stats == {"requeued": 1, "failed": 0}
    task.refresh_from_db()
    # The page the dead worker stored is kept; the task waits to go on after it.
    assert (task.status, task.pages_done, task.heartbeat_at) == (Status.QUEUED, 1, None)
    assert list(task.pages.values_list("text", flat=True)) == ["half-read"]
    [event] = audit_events("task_reclaim")
    assert (event.outcome, event.user, event.request_id) == (
        Outcome.SUCCESS,
        user,
        task.request_id,
    )
    assert event.message == "Worker stopped responding; task requeued"
    assert event.metadata == {"attempts": 1, "status": "queued"}

    run_worker()

    task.refresh_from_db()
    assert (task.status, task.attempts, task.pages_done) == (Status.COMPLETED, 2, 1)
    # Its only page was stored already: the second attempt read nothing again.
    assert (task.result_text, task.pages.get().attempt) == ("half-read", 1)
    [resumed] = audit_events("task_process", resource_id=task.pk)
    assert (resumed.metadata["attempt"], resumed.metadata["pages_kept"]) == (2, 1)


@worker_db
def test_reclaimed_task_goes_on_at_the_first_page_not_stored(
    user, orphaned, run_worker, audit_events
):
    pages = [
        samples.make_text_image(samples.KNOWN_WORDS),
        samples.make_text_image(samples.SECOND_PAGE_WORDS),
        samples.make_text_image(["orchard", "violin", "granite", "1642"]),
    ]
    upload = SimpleUploadedFile(
        "three.pdf", samples.image_pdf_bytes(pages), content_type="application/pdf"
    )
    task = orphaned(user, upload=upload)

    reclaim_stale_tasks()
    run_worker()

    task.refresh_from_db()
    assert (task.status, task.attempts, task.pages_done) == (Status.COMPLETED, 2, 3)
    stored = list(task.pages.order_by("index").values_list("index", "attempt", "text"))
    # Page 1 keeps what the dead worker read; pages 2 and 3 were read once, by attempt 2.
    assert [(index, attempt) for index, attempt, _ in stored] == [(0, 1), (1, 2), (2, 2)]
    assert stored[0][2] == "half-read"
    assert set(samples.SECOND_PAGE_WORDS) <= words_in(stored[1][2])
    assert {"orchard", "violin", "granite"} <= words_in(stored[2][2])
    assert task.result_text.split("\f")[0] == "half-read"
    assert task.searchable_pdf
    [resumed] = audit_events("task_process", resource_id=task.pk)
    assert (resumed.metadata["attempt"], resumed.metadata["pages_kept"]) == (2, 1)


@worker_db
def test_a_reclaimed_job_row_names_an_exception_that_exists(user, orphaned):
    orphaned(user)
    job = DBTaskResult.objects.get()
    DBTaskResult.objects.filter(pk=job.pk).update(started_at=timezone.now() - timedelta(hours=1))

    reclaim_stale_tasks()

    job.refresh_from_db()
    [error] = job.task_result.errors
    # django.tasks imports the class the row names: an unknown one is an ImportError.
    assert error.exception_class is WorkerLost
    assert job.exception_class_path == "tasks.services.WorkerLost"


@worker_db
def test_reclaim_command_requeues_stale_tasks(user, orphaned, run_worker):
    task = orphaned(user)
    out = io.StringIO()

    call_command("reclaim_stale_tasks", stdout=out)
    run_worker()

    assert out.getvalue() == "Requeued 1, failed 0 stale task(s).\n"
    task.refresh_from_db()
    assert task.status == Status.COMPLETED


@worker_db
def test_any_worker_run_reclaims_stale_tasks(user, orphaned, make_task, run_worker):
    stale = orphaned(user)
    fresh_upload = make_task(user)

    run_worker()

    stale.refresh_from_db()
    fresh_upload.refresh_from_db()
    assert (stale.status, fresh_upload.status) == (Status.COMPLETED, Status.COMPLETED)


@worker_db
def test_busy_task_with_a_recent_heartbeat_is_left_alone(settings, user, orphaned):
    settings.OCR_STALE_AFTER_SECONDS = 600
    task = orphaned(user, silent_for=timedelta(seconds=60))

    assert reclaim_stale_tasks() == {"requeued": 0, "failed": 0}
    task.refresh_from_db()
    assert (task.status, task.pages_done) == (Status.PROCESSING, 1)


@worker_db
def test_task_fails_after_the_last_attempt_and_can_be_retried(
    settings, user, client_for, orphaned, run_worker, audit_events
):
    settings.OCR_MAX_ATTEMPTS = 3
    task = orphaned(user, attempts=3)

    stats = reclaim_stale_tasks()
    run_worker()

    assert stats == {"requeued": 0, "failed": 1}
    task.refresh_from_db()
    assert task.status == Status.FAILED
    assert task.error == ("The worker stopped responding 3 times; giving up. Retry to try again.")
    assert task.finished_at is not None
    [event] = audit_events("task_reclaim")
    assert (event.outcome, event.message) == (Outcome.FAILURE, task.error)
    assert event.metadata == {"attempts": 3, "status": "failed"}

    response = client_for(user).post(f"{API_TASKS}/{task.pk}/retry")
    run_worker()

    assert response.status_code == 202
    task.refresh_from_db()
    assert (task.status, task.error) == (Status.COMPLETED, "")
    assert set(samples.KNOWN_WORDS) <= words_in(task.result_text)


@worker_db
def test_retried_task_gets_a_fresh_set_of_attempts(settings, user, client_for, orphaned):
    settings.OCR_MAX_ATTEMPTS = 2
    task = orphaned(user, attempts=2)
    reclaim_stale_tasks()
    client_for(user).post(f"{API_TASKS}/{task.pk}/retry")
    # A worker claims the retried task and dies on it too.
    claim(task.pk)
    past = timezone.now() - timedelta(hours=1)
    OcrTask.objects.filter(pk=task.pk).update(heartbeat_at=past)

    assert reclaim_stale_tasks() == {"requeued": 1, "failed": 0}
    task.refresh_from_db()
    assert (task.status, task.attempts) == (Status.QUEUED, 1)
