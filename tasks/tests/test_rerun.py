"""Read a finished task again: another engine, or OCR on every page; audited."""

import pytest

from audit.events import Outcome
from tasks.models import OcrTask, Status

from . import samples
from .test_events import AGENT, IP, fields


@pytest.mark.django_db(transaction=True)
def test_a_completed_task_is_read_again_with_another_engine(
    user, client_for, make_task, processed, run_worker, audit_events
):
    task = make_task(user)
    run_worker()
    task.refresh_from_db()
    assert (task.status, task.engine) == (Status.COMPLETED, "tesseract")

    response = client_for(user).post(
        f"/tasks/{task.pk}/rerun/", {"engine": "rapidocr", "language": "", "force_ocr": "on"}
    )

    assert response.status_code == 302
    task.refresh_from_db()
    assert (task.status, task.engine, task.language, task.force_ocr) == (
        Status.QUEUED,
        "rapidocr",
        "ch",
        True,
    )
    [rerun] = audit_events("task_retry", resource_id=task.pk)
    assert fields(rerun, "user", "outcome", "ip_address", "user_agent") == (
        user,
        Outcome.SUCCESS,
        IP,
        AGENT,
    )
    assert rerun.request_id == response["X-Request-ID"]
    assert rerun.metadata == {
        "rerun": True,
        "previous_status": "completed",
        "previous_engine": "tesseract",
        "previous_language": "eng",
        "engine": "rapidocr",
        "language": "ch",
        "force_ocr": True,
    }
    run_worker()
    task.refresh_from_db()
    assert task.status == Status.COMPLETED
    # Read again from page one by RapidOCR: the same words, a new page row.
    assert task.pages.count() == 1
    assert set(samples.KNOWN_WORDS) <= set(task.result_text.lower().split())


@pytest.mark.django_db
def test_a_task_still_queued_cannot_be_read_again(user, client_for, make_task, audit_events):
    task = make_task(user)

    response = client_for(user).post(
        f"/tasks/{task.pk}/rerun/", {"engine": "tesseract"}, follow=True
    )

    assert "Only finished tasks can be read again" in response.content.decode()
    assert OcrTask.objects.get(pk=task.pk).status == Status.QUEUED
    assert audit_events("task_retry") == []


@pytest.mark.django_db
def test_an_engine_that_cannot_read_the_language_is_refused(
    user, client_for, make_task, processed, audit_events
):
    task = processed(make_task(user))

    response = client_for(user).post(
        f"/tasks/{task.pk}/rerun/", {"engine": "tesseract", "language": "ch"}, follow=True
    )

    assert "does not read language" in response.content.decode()
    assert OcrTask.objects.get(pk=task.pk).engine == "tesseract"
    assert audit_events("task_retry") == []


@pytest.mark.django_db
def test_another_users_task_is_not_found(user, other_user, client_for, make_task, processed):
    task = processed(make_task(user))

    response = client_for(other_user).post(f"/tasks/{task.pk}/rerun/", {"engine": "rapidocr"})

    assert response.status_code == 404
    assert OcrTask.objects.get(pk=task.pk).engine == "tesseract"


@pytest.mark.django_db
def test_the_detail_page_offers_to_read_a_finished_task_again(
    user, client_for, make_task, processed
):
    task = processed(make_task(user))

    html = client_for(user).get(f"/tasks/{task.pk}/").content.decode()

    assert f'action="/tasks/{task.pk}/rerun/"' in html
    assert "Read again" in html
