"""What a user sees of a scanned page that had to be turned, or had no text: page, API, PDF."""

import io
import time
from datetime import timedelta

import pypdfium2 as pdfium
import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from PIL import Image

from tasks.models import OcrPage, OcrTask, Phase, Status
from tasks.services.reclaim import reclaim_stale_tasks
from tasks.worker.heartbeat import Heartbeat

from .conftest import API_TASKS, upload_file
from .samples import encode_image
from .scan_corpus import character_error_rate, photograph_without_text, rotated, upright_page

worker_db = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sideways_task(user, make_task, processed):
    """Return a processed task whose one page was scanned sideways (turned 90 clockwise)."""
    image, text = upright_page(seed=21, font="Liberation Serif", dpi=300)
    data = encode_image(rotated(image, 1), format="PNG", dpi=(300, 300))
    task = processed(make_task(user, upload_file(data, "sideways.png")))
    return task, text, image.size


@pytest.mark.django_db
def test_sideways_page_is_read_upright_and_shown_upright(sideways_task, client_for, user):
    task, text, upright_size = sideways_task
    client = client_for(user)
    page = task.pages.get()

    assert task.status == Status.COMPLETED
    assert character_error_rate(expected=text, actual=page.text) <= 0.02
    assert (page.rotation, page.skew, page.orientation_certain) == (270, 0.0, True)
    assert (page.width, page.height) == upright_size
    preview = Image.open(io.BytesIO(client.get(f"/tasks/{task.pk}/pages/1.png").content))
    assert preview.width > preview.height  # landscape, as the page was printed
    result = client.get(f"{API_TASKS}/{task.pk}/result?format=json").json()
    assert (result["pages"][0]["rotation"], result["pages"][0]["no_text_found"]) == (270, False)
    assert (
        "Turned 270° clockwise before reading." in client.get(f"/tasks/{task.pk}/").content.decode()
    )


@pytest.mark.django_db
def test_searchable_pdf_shows_the_turned_page_with_its_text_over_it(
    sideways_task, client_for, user
):
    task, text, _ = sideways_task
    response = client_for(user).get(f"/tasks/{task.pk}/download.pdf")

    document = pdfium.PdfDocument(b"".join(response.streaming_content))
    page = document[0]
    width, height = page.get_size()
    first_word = text.split()[0]
    textpage = page.get_textpage()
    found = textpage.search(first_word).get_next()
    assert width > height
    assert found is not None
    left, _, _, top = textpage.get_charbox(found[0])
    # The word sits in the top-left corner of the upright page, where it was printed.
    assert left < width / 3 and top > height * 2 / 3


@pytest.mark.django_db
def test_deleting_a_task_removes_its_derived_files(
    sideways_task, client_for, user, stored_files, django_capture_on_commit_callbacks
):
    task, _, _ = sideways_task
    assert len(stored_files()) == 3  # the upload, the turned page image, the searchable PDF

    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(user).post(f"/tasks/{task.pk}/delete/")

    assert response.status_code == 302
    assert stored_files() == []


@pytest.mark.django_db
def test_blank_page_completes_with_no_text_found(user, make_task, processed, client_for):
    blank = encode_image(Image.new("L", (1200, 900), 255), format="PNG")
    task = processed(make_task(user, upload_file(blank, "blank.png")))
    client = client_for(user)

    api = client.get(f"{API_TASKS}/{task.pk}").json()
    html = client.get(f"/tasks/{task.pk}/").content.decode()

    assert (api["status"], api["no_text_found"], api["phase"]) == ("completed", True, "")
    assert "No text found in this document." in html
    assert "No text found on this page." in html
    assert "<pre></pre>" not in html


@pytest.mark.django_db
def test_a_photograph_without_text_completes_with_no_text_found(
    user, make_task, processed, client_for
):
    # Unfiltered, the worker's Tesseract read 12 lines of junk off this photo:
    # "oA / : / o / < /Q\\A > K\\v ...". None of it is stored.
    photo = encode_image(photograph_without_text(seed=10), format="JPEG")
    task = processed(make_task(user, upload_file(photo, "garden.jpg")))

    result = client_for(user).get(f"{API_TASKS}/{task.pk}/result?format=json").json()

    assert (result["status"], result["no_text_found"], result["text"]) == ("completed", True, "")
    page = result["pages"][0]
    assert (page["no_text_found"], page["text"], page["lines"]) == (True, "", [])


@pytest.mark.django_db
def test_detail_and_api_say_what_a_running_task_is_doing(user, make_task_row, client_for):
    task = make_task_row(
        user, status=Status.PROCESSING, phase=Phase.READING, pages_done=1, page_count=8
    )
    client = client_for(user)

    api = client.get(f"{API_TASKS}/{task.pk}").json()
    html = client.get(f"/tasks/{task.pk}/").content.decode()

    assert (api["phase"], api["phase_label"]) == ("reading", "Reading page 2 of 8")
    assert "Reading page 2 of 8" in html
    OcrTask.objects.filter(pk=task.pk).update(phase=Phase.RENDERING, pages_done=0)
    assert client.get(f"{API_TASKS}/{task.pk}").json()["phase_label"] == "Rendering"


@worker_db
def test_heartbeat_reclaims_an_orphan_on_its_timer_and_ends_its_job(
    settings, user, make_task, run_worker, audit_events
):
    settings.OCR_STALE_AFTER_SECONDS = 3
    task = make_task(user)
    job = DBTaskResult.objects.get()
    # A worker took the job and the task, then died: no new work will ever arrive.
    DBTaskResult.objects.update(status="RUNNING", started_at=timezone.now())
    silent = timezone.now() - timedelta(seconds=30)
    OcrTask.objects.filter(pk=task.pk).update(
        status=Status.PROCESSING, attempts=1, heartbeat_at=silent, job_id=str(job.pk)
    )
    OcrPage.objects.create(task=task, index=0, text="half-read", source="ocr")
    heartbeat = Heartbeat(reclaim=reclaim_stale_tasks)
    heartbeat.start()
    try:
        deadline = time.monotonic() + 30
        while OcrTask.objects.get(pk=task.pk).status != Status.QUEUED:
            assert time.monotonic() < deadline, "the heartbeat did not reclaim the task"
            time.sleep(0.2)
    finally:
        heartbeat.stop()
        heartbeat.join(timeout=10)

    job.refresh_from_db()
    assert (job.status, job.traceback) == (
        "FAILED",
        "The worker running this job stopped responding; its task was reclaimed.",
    )
    assert len(audit_events("task_reclaim")) == 1
    run_worker()
    task.refresh_from_db()
    assert task.status == Status.COMPLETED
    assert list(task.pages.values_list("index", flat=True)) == [0]
    assert not DBTaskResult.objects.filter(status="RUNNING").exists()
