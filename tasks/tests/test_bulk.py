"""Bulk re-run and bulk download beside bulk delete: own tasks only, bounded, audited."""

import io
import os
import re
import subprocess
import sys
import uuid
import zipfile

import pytest
from django.test import Client

from audit.events import Outcome
from tasks import bulk
from tasks.models import OcrTask, Status
from tasks.throttling import UploadRateThrottle

from . import samples
from .test_events import AGENT, IP, fields

pytestmark = pytest.mark.django_db


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def zip_of(response) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))


# --- The list offers them ----------------------------------------------------------------


def test_the_list_offers_rerun_and_download_beside_delete(page_client, user, make_task_row):
    make_task_row(user)

    html = page_client.get("/").content.decode()

    assert 'formaction="/tasks/rerun/"' in html
    assert 'formaction="/tasks/download/"' in html
    assert "Delete selected…" in html


# --- Bulk re-run -------------------------------------------------------------------------


def test_rerun_page_says_what_is_read_again_and_what_is_left(page_client, user, make_task_row):
    done = make_task_row(user, original_name="done.png", status=Status.COMPLETED)
    failed = make_task_row(user, original_name="failed.png", status=Status.FAILED)
    running = make_task_row(user, original_name="running.pdf", status=Status.PROCESSING)

    response = page_client.get("/tasks/rerun/", {"ids": [done.pk, failed.pk, running.pk]})

    html = response.content.decode()
    assert response.status_code == 200
    assert "Read 2 tasks again?" in html
    to_rerun = html.split('id="to-rerun"')[1].split("</ul>")[0]
    left = html.split('id="not-rerun"')[1].split("</ul>")[0]
    assert "done.png" in to_rerun and "failed.png" in to_rerun
    assert "running.pdf" in left and "not finished yet" in left
    assert f'value="{running.pk}"' not in html
    assert 'name="force_ocr"' in html


def test_rerun_queues_each_finished_task_with_its_own_task_retry(
    page_client, user, make_task_row, audit_events
):
    done = make_task_row(user, status=Status.COMPLETED, result_text="old text")
    failed = make_task_row(user, status=Status.FAILED, error="boom")
    running = make_task_row(user, status=Status.PROCESSING)

    response = page_client.post(
        "/tasks/rerun/",
        {"ids": [done.pk, failed.pk, running.pk], "engine": "rapidocr", "force_ocr": "on"},
        follow=True,
    )

    assert response.redirect_chain == [("/", 302)]
    assert "2 tasks queued to be read again." in messages_of(response)
    assert any("was left as it is: not finished yet" in m for m in messages_of(response))
    for task in (done, failed):
        task.refresh_from_db()
        assert (task.status, task.engine, task.language, task.force_ocr) == (
            Status.QUEUED,
            "rapidocr",
            "ch",
            True,
        )
    running.refresh_from_db()
    assert (running.status, running.engine) == (Status.PROCESSING, "tesseract")

    events = audit_events("task_retry")
    assert sorted(event.resource_id for event in events) == sorted([str(done.pk), str(failed.pk)])
    for event in events:
        assert fields(event, "user", "username", "outcome", "ip_address", "user_agent") == (
            user,
            user.username,
            Outcome.SUCCESS,
            IP,
            AGENT,
        )
        assert event.resource_type == "task"
        assert {key: event.metadata[key] for key in ("rerun", "engine", "force_ocr", "batch")} == {
            "rerun": True,
            "engine": "rapidocr",
            "force_ocr": True,
            "batch": 2,
        }
    assert {event.metadata["previous_status"] for event in events} == {"completed", "failed"}


def test_rerun_without_an_engine_keeps_each_tasks_own(page_client, user, make_task_row):
    tess = make_task_row(user, status=Status.COMPLETED, engine="tesseract", language="eng")
    rapid = make_task_row(user, status=Status.COMPLETED, engine="rapidocr", language="ch")

    page_client.post("/tasks/rerun/", {"ids": [tess.pk, rapid.pk], "engine": "", "language": ""})

    tess.refresh_from_db()
    rapid.refresh_from_db()
    assert (tess.status, tess.engine, tess.language) == (Status.QUEUED, "tesseract", "eng")
    assert (rapid.status, rapid.engine, rapid.language) == (Status.QUEUED, "rapidocr", "ch")


def test_rerun_cannot_touch_other_users_tasks(
    page_client, user, other_user, make_task_row, audit_events
):
    theirs = make_task_row(other_user, original_name="theirs.png", status=Status.COMPLETED)

    page = page_client.get("/tasks/rerun/", {"ids": [theirs.pk]})
    posted = page_client.post("/tasks/rerun/", {"ids": [theirs.pk]})

    assert (page.status_code, posted.status_code) == (400, 400)
    assert "theirs.png" not in page.content.decode()
    assert "Choose at least one task to read again." in messages_of(posted)
    theirs.refresh_from_db()
    assert theirs.status == Status.COMPLETED
    assert audit_events("task_retry") == []


def test_rerun_over_the_bound_is_refused_and_says_it(
    page_client, user, make_task_row, audit_events, settings
):
    settings.OCR_MAX_FILES_PER_REQUEST = 2
    tasks = [make_task_row(user, status=Status.COMPLETED) for _ in range(3)]
    ids = [task.pk for task in tasks]

    page = page_client.get("/tasks/rerun/", {"ids": ids})
    posted = page_client.post("/tasks/rerun/", {"ids": ids})

    refusal = "3 finished tasks chosen; at most 2 can be read again at once. Choose fewer."
    assert (page.status_code, posted.status_code) == (413, 413)
    assert refusal in page.content.decode()
    assert 'id="bulk-refusal"' in page.content.decode()
    assert '<button type="submit" class="primary">' not in page.content.decode()
    assert refusal in posted.content.decode()
    assert set(OcrTask.objects.values_list("status", flat=True)) == {Status.COMPLETED}
    assert audit_events("task_retry") == []


def test_rerun_with_an_unknown_engine_queues_nothing(page_client, user, make_task_row):
    task = make_task_row(user, status=Status.COMPLETED)

    response = page_client.post(
        "/tasks/rerun/", {"ids": [task.pk], "engine": "tesseract", "language": "klingon"}
    )

    # The re-run page again, the field named, the choice kept to send once more.
    assert response.status_code == 400
    html = response.content.decode()
    assert "klingon" in html.split('for="id_language"')[1]
    assert f'<input type="hidden" name="ids" value="{task.pk}">' in html
    task.refresh_from_db()
    assert task.status == Status.COMPLETED


def test_rerun_needs_csrf(user, make_task_row):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    task = make_task_row(user, status=Status.COMPLETED)

    response = client.post("/tasks/rerun/", {"ids": [task.pk]})

    assert response.status_code == 403
    task.refresh_from_db()
    assert task.status == Status.COMPLETED


@pytest.mark.django_db(transaction=True)
def test_rerun_tasks_are_read_again_by_the_worker(
    page_client, user, make_task, run_worker, audit_events
):
    tasks = [make_task(user) for _ in range(2)]
    run_worker()

    page_client.post("/tasks/rerun/", {"ids": [task.pk for task in tasks], "engine": "rapidocr"})
    run_worker()

    for task in tasks:
        task.refresh_from_db()
        assert (task.status, task.engine) == (Status.COMPLETED, "rapidocr")
        assert set(samples.KNOWN_WORDS) <= set(task.result_text.lower().split())
    assert len(audit_events("task_retry")) == 2


# --- Bulk download -----------------------------------------------------------------------


def test_download_page_lists_the_zip_and_what_it_leaves_out(page_client, user, make_task_row):
    done = make_task_row(user, original_name="a.png", status=Status.COMPLETED, result_text="abc")
    queued = make_task_row(user, original_name="b.png", status=Status.QUEUED)

    response = page_client.get("/tasks/download/", {"ids": [done.pk, queued.pk]})

    html = response.content.decode()
    assert response.status_code == 200
    assert "Download 1 result as a zip?" in html
    in_zip = html.split('id="in-zip"')[1].split("</ul>")[0]
    left = html.split('id="left-out"')[1].split("</ul>")[0]
    assert "a.txt" in in_zip and "3\xa0bytes" in in_zip
    assert "b.png" in left and "no result yet" in left
    # The other format is a link that keeps the choice.
    [link] = re.findall(r'<a href="(\?[^"]*format=pdf)"', html)
    assert f"ids={done.pk}" in link and f"ids={queued.pk}" in link


def test_download_of_texts_is_a_zip_with_one_task_download_per_task(
    page_client, user, make_task_row, audit_events
):
    one = make_task_row(
        user, original_name="invoice.png", status=Status.COMPLETED, result_text="Total 17 €"
    )
    # Same stem twice, and a name that would climb out of the folder it is unzipped into.
    two = make_task_row(user, original_name="invoice.pdf", status=Status.COMPLETED, result_text="x")
    three = make_task_row(
        user, original_name="../../.bashrc.png", status=Status.COMPLETED, result_text="y"
    )
    queued = make_task_row(user, status=Status.QUEUED)

    response = page_client.post(
        "/tasks/download/",
        {"ids": [one.pk, two.pk, three.pk, queued.pk], "format": "txt"},
    )

    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"].startswith('attachment; filename="ocr-texts-')
    archive = zip_of(response)
    assert archive.testzip() is None
    texts = {name: archive.read(name).decode() for name in archive.namelist()}
    assert sorted(texts) == sorted(["invoice.txt", "invoice (2).txt", "_.._.bashrc.txt"])
    assert sorted(texts.values()) == sorted(["Total 17 €", "x", "y"])

    events = audit_events("task_download")
    assert sorted(event.resource_id for event in events) == sorted(
        str(task.pk) for task in (one, two, three)
    )
    for event in events:
        assert fields(event, "user", "username", "outcome", "ip_address", "user_agent") == (
            user,
            user.username,
            Outcome.SUCCESS,
            IP,
            AGENT,
        )
        assert (event.category, event.resource_type) == ("task", "task")
        assert event.request_id == response["X-Request-ID"]
    [first] = [event for event in events if event.resource_id == str(one.pk)]
    assert first.metadata == {
        "via": "page",
        "format": "txt",
        "filename": "invoice.png",
        "size": len("Total 17 €".encode()),
        "pages": 1,
        "archive": True,
        "batch": 3,
    }


@pytest.mark.django_db(transaction=True)
def test_download_of_searchable_pdfs_holds_each_pdf(
    page_client, user, make_task, make_task_row, run_worker, audit_events
):
    task = make_task(user)
    run_worker()
    task.refresh_from_db()
    assert task.searchable_pdf
    no_pdf = make_task_row(user, original_name="old.png", status=Status.COMPLETED)

    page = page_client.get("/tasks/download/", {"ids": [task.pk, no_pdf.pk], "format": "pdf"})
    response = page_client.post("/tasks/download/", {"ids": [task.pk, no_pdf.pk], "format": "pdf"})

    assert "no searchable PDF" in page.content.decode().split('id="left-out"')[1]
    archive = zip_of(response)
    [name] = archive.namelist()
    assert name == task.original_name.rsplit(".", 1)[0] + "-searchable.pdf"
    with task.searchable_pdf.open("rb") as stored:
        assert archive.read(name) == stored.read()
    assert archive.getinfo(name).compress_type == zipfile.ZIP_STORED
    [event] = audit_events("task_download")
    assert (event.resource_id, event.metadata["format"]) == (str(task.pk), "pdf")


def test_download_over_the_size_bound_is_refused_and_records_nothing(
    page_client, user, make_task_row, audit_events, settings
):
    settings.OCR_BULK_DOWNLOAD_MAX_BYTES = 10
    tasks = [make_task_row(user, status=Status.COMPLETED, result_text="eight ch") for _ in range(2)]
    ids = [task.pk for task in tasks]

    page = page_client.get("/tasks/download/", {"ids": ids})
    response = page_client.post("/tasks/download/", {"ids": ids, "format": "txt"})

    message = "The chosen results come to 16\xa0bytes; a download takes at most 10\xa0bytes."
    assert page.status_code == 413
    assert message in page.content.decode()
    assert response.status_code == 413
    assert message in response.content.decode()
    assert not response.streaming
    assert audit_events("task_download") == []


def test_download_of_more_tasks_than_the_bound_is_refused(
    page_client, user, make_task_row, audit_events, settings
):
    settings.OCR_BULK_MAX_TASKS = 2
    tasks = [make_task_row(user, status=Status.COMPLETED, result_text="t") for _ in range(3)]
    ids = [t.pk for t in tasks]

    page = page_client.get("/tasks/download/", {"ids": ids})
    posted = page_client.post("/tasks/download/", {"ids": ids, "format": "txt"})

    for response in (page, posted):
        assert response.status_code == 413
        assert not response.streaming
        assert "3 tasks chosen; at most 2 at once. Choose fewer." in messages_of(response)
    assert audit_events("task_download") == []


def test_download_never_holds_other_users_results(
    page_client, user, other_user, make_task_row, audit_events
):
    mine = make_task_row(user, status=Status.COMPLETED, result_text="mine")
    theirs = make_task_row(other_user, status=Status.COMPLETED, result_text="theirs")

    alone = page_client.post("/tasks/download/", {"ids": [theirs.pk]})
    both = page_client.post("/tasks/download/", {"ids": [theirs.pk, mine.pk]})

    assert alone.status_code == 400
    assert "Choose at least one task to download." in messages_of(alone)
    archive = zip_of(both)
    assert [archive.read(name) for name in archive.namelist()] == [b"mine"]
    assert [event.resource_id for event in audit_events("task_download")] == [str(mine.pk)]


def test_download_with_an_unknown_format_is_a_400(page_client, user, make_task_row, audit_events):
    task = make_task_row(user, status=Status.COMPLETED, result_text="t")

    response = page_client.post("/tasks/download/", {"ids": [task.pk], "format": "exe"})

    assert response.status_code == 400
    assert "Unknown format; choose texts or searchable PDFs." in response.content.decode()
    assert audit_events("task_download") == []


def test_download_needs_csrf(user, make_task_row):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    task = make_task_row(user, status=Status.COMPLETED, result_text="t")

    assert client.post("/tasks/download/", {"ids": [task.pk]}).status_code == 403


def test_bulk_pages_need_a_session(client, make_task_row, user):
    task = make_task_row(user, status=Status.COMPLETED)

    for path in ("/tasks/rerun/", "/tasks/download/"):
        response = client.get(path, {"ids": [task.pk]})
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")


def test_zip_entry_names_fit_a_file_systems_255_bytes(page_client, user, make_task_row):
    long = make_task_row(
        user, original_name="é" * 200 + ".png", status=Status.COMPLETED, result_text="a"
    )
    again = make_task_row(
        user, original_name="é" * 201 + ".png", status=Status.COMPLETED, result_text="b"
    )

    response = page_client.post("/tasks/download/", {"ids": [long.pk, again.pk], "format": "txt"})

    names = zip_of(response).namelist()
    assert len(names) == 2
    assert all(len(name.encode()) <= 255 for name in names)
    # Cut on a character, not inside one; the second is told apart after the cut.
    assert names[0].startswith("é" * 100) and names[0].endswith(".txt")
    assert names[1].endswith(" (2).txt")


def test_a_task_deleted_before_its_rerun_is_skipped_and_the_rest_are_read(
    user, make_task_row, audit_events
):
    gone = make_task_row(user, original_name="gone.png", status=Status.COMPLETED)
    kept = make_task_row(user, original_name="kept.png", status=Status.COMPLETED)
    chosen = list(OcrTask.objects.filter(pk__in=[gone.pk, kept.pk]).order_by("original_name"))
    OcrTask.objects.filter(pk=gone.pk).delete()

    outcome = bulk.tasks_rerun(
        tasks=chosen, actor=user, engine=None, language=None, force_ocr=False
    )

    assert [task.pk for task in outcome.queued] == [kept.pk]
    assert [(task.pk, str(reason)) for task, reason in outcome.skipped] == [
        (gone.pk, "deleted meanwhile")
    ]
    assert [event.resource_id for event in audit_events("task_retry")] == [str(kept.pk)]


def test_ids_that_match_nothing_do_not_count_against_the_bound(
    page_client, user, make_task_row, settings
):
    mine = make_task_row(user, original_name="mine.png", status=Status.COMPLETED, result_text="a")
    unknown = [str(uuid.uuid4()) for _ in range(settings.OCR_BULK_MAX_TASKS + 1)]

    response = page_client.post("/tasks/download/", {"ids": [*unknown, mine.pk], "format": "txt"})

    assert response.status_code == 200
    assert zip_of(response).namelist() == ["mine.txt"]


# --- Bad input answers 4xx, and nothing is done in part ----------------------------------

BULK_PAGES = ["/tasks/delete/", "/tasks/rerun/", "/tasks/download/"]
NOTHING_CHOSEN = {
    "/tasks/delete/": "Choose at least one task to delete.",
    "/tasks/rerun/": "Choose at least one task to read again.",
    "/tasks/download/": "Choose at least one task to download.",
}
MALFORMED = "The choice holds something that is not a task id; nothing was done."


def ticked(response) -> set[str]:
    """Return the ids whose box the list page drew ticked."""
    return set(
        re.findall(
            r'value="([0-9a-f-]{36})" form="bulk-delete-form"[^>]* checked',
            str(response.content.decode()),
        )
    )


def nothing_happened(audit_events) -> bool:
    statuses = set(OcrTask.objects.values_list("status", flat=True))
    return statuses == {Status.COMPLETED} and not any(
        audit_events(kind) for kind in ("task_delete", "task_retry", "task_download")
    )


@pytest.mark.parametrize("path", BULK_PAGES)
@pytest.mark.parametrize("method", ["get", "post"])
def test_no_task_chosen_draws_the_list_again_as_a_400(
    page_client, user, other_user, make_task_row, audit_events, path, method
):
    mine = make_task_row(user, original_name="mine.png", status=Status.COMPLETED)
    theirs = make_task_row(other_user, status=Status.COMPLETED)

    # No ids at all, an empty one, and ids that are no task of this user's.
    for ids in ([], [""], [str(uuid.uuid4()), str(theirs.pk)]):
        response = getattr(page_client, method)(path, {"ids": ids})

        assert response.status_code == 400
        assert NOTHING_CHOSEN[path] in messages_of(response)
        # The list itself, not a redirect to it: the user's tasks are there to choose from.
        assert 'id="task-table"' in response.content.decode()
        assert "mine.png" in response.content.decode()
    assert OcrTask.objects.count() == 2
    assert nothing_happened(audit_events)
    assert mine.pk in OcrTask.objects.values_list("pk", flat=True)


@pytest.mark.parametrize("path", BULK_PAGES)
def test_a_malformed_id_refuses_the_whole_request(
    page_client, user, make_task_row, audit_events, path
):
    good = make_task_row(user, status=Status.COMPLETED, result_text="t")
    other = make_task_row(user, status=Status.COMPLETED, result_text="u")

    response = page_client.post(path, {"ids": [good.pk, "1; DROP TABLE"], "format": "txt"})

    assert response.status_code == 400
    assert not response.streaming
    assert messages_of(response) == [MALFORMED]
    assert "DROP TABLE" not in response.content.decode()
    # Not a part of the choice acted on: both tasks stay as they were.
    assert OcrTask.objects.count() == 2
    assert nothing_happened(audit_events)
    # The well-formed id stays ticked, the other task not.
    assert ticked(response) == {str(good.pk)}
    assert str(other.pk) in response.content.decode()


@pytest.mark.parametrize("path", BULK_PAGES)
@pytest.mark.parametrize("method", ["get", "post"])
def test_more_tasks_than_the_bound_is_a_413_and_nothing_is_done(
    page_client, user, make_task_row, audit_events, settings, path, method
):
    settings.OCR_BULK_MAX_TASKS = 2
    tasks = [make_task_row(user, status=Status.COMPLETED, result_text="t") for _ in range(3)]
    ids = [str(task.pk) for task in tasks]

    response = getattr(page_client, method)(path, {"ids": ids, "format": "txt"})

    assert response.status_code == 413
    assert not response.streaming
    assert messages_of(response) == ["3 tasks chosen; at most 2 at once. Choose fewer."]
    # The old delete cut the choice to the bound and deleted that much without a word.
    assert OcrTask.objects.count() == 3
    assert nothing_happened(audit_events)
    assert ticked(response) == set(ids)


def test_the_bound_is_the_setting(page_client, user, make_task_row, audit_events, settings):
    settings.OCR_BULK_MAX_TASKS = 3
    tasks = [make_task_row(user, status=Status.COMPLETED) for _ in range(3)]

    response = page_client.post("/tasks/delete/", {"ids": [task.pk for task in tasks]})

    assert response.status_code == 302
    assert OcrTask.objects.count() == 0
    assert len(audit_events("task_delete")) == 3


@pytest.mark.usefixtures("fresh_cache")
def test_a_rerun_refused_by_the_upload_rate_is_a_429_and_queues_nothing(
    page_client, user, make_task_row, audit_events, monkeypatch
):
    monkeypatch.setattr(UploadRateThrottle, "THROTTLE_RATES", {"upload": "1/min"})
    first = make_task_row(user, status=Status.COMPLETED)
    second = make_task_row(user, status=Status.COMPLETED)
    assert page_client.post("/tasks/rerun/", {"ids": [first.pk]}).status_code == 302

    response = page_client.post("/tasks/rerun/", {"ids": [second.pk]})

    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert 'id="bulk-error"' in response.content.decode()
    second.refresh_from_db()
    assert second.status == Status.COMPLETED
    assert [event.resource_id for event in audit_events("task_retry")] == [str(first.pk)]


def test_a_download_page_with_nothing_to_zip_is_a_400(page_client, user, make_task_row):
    queued = make_task_row(user, status=Status.QUEUED)

    page = page_client.get("/tasks/download/", {"ids": [queued.pk]})
    posted = page_client.post("/tasks/download/", {"ids": [queued.pk], "format": "txt"})

    for response in (page, posted):
        assert response.status_code == 400
        assert not response.streaming
        assert "None of the chosen tasks has this result to download." in (
            response.content.decode()
        )


# --- The bounds are settings, checked at start-up -----------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "check", "refused"),
    [
        ("OCR_BULK_MAX_TASKS", 0, "tasks.E008", True),
        ("OCR_BULK_MAX_TASKS", -5, "tasks.E008", True),
        # More ids than Django reads from one request: the bound could never speak.
        ("OCR_BULK_MAX_TASKS", 5000, "tasks.E008", True),
        ("OCR_BULK_MAX_TASKS", 1000, "tasks.E008", False),
        ("OCR_BULK_MAX_TASKS", 100, "tasks.E008", False),
        ("OCR_BULK_DOWNLOAD_MAX_BYTES", 0, "tasks.E009", True),
        ("OCR_BULK_DOWNLOAD_MAX_BYTES", 1, "tasks.E009", False),
    ],
)
def test_a_bulk_bound_out_of_range_is_refused_at_start_up(settings, name, value, check, refused):
    from django.core.checks import run_checks

    setattr(settings, name, value)
    assert (check in [error.id for error in run_checks()]) is refused


def test_the_bulk_bounds_are_read_from_the_environment():
    # A fresh interpreter: settings are read once, at import.
    code = (
        "from ocr_project import settings as s; "
        "print(s.OCR_BULK_MAX_TASKS, s.OCR_BULK_DOWNLOAD_MAX_BYTES)"
    )
    environment = {**os.environ, "OCR_BULK_MAX_TASKS": "7", "OCR_BULK_DOWNLOAD_MAX_BYTES": "4096"}
    unset = {k: v for k, v in os.environ.items() if not k.startswith("OCR_BULK_")}

    given = subprocess.run(
        [sys.executable, "-c", code], env=environment, capture_output=True, text=True, check=True
    )
    default = subprocess.run(
        [sys.executable, "-c", code], env=unset, capture_output=True, text=True, check=True
    )

    assert given.stdout.split() == ["7", "4096"]
    assert default.stdout.split() == ["100", str(512 * 1024 * 1024)]


def test_the_list_drawn_by_a_refusal_searches_sorts_and_pages_the_list(
    page_client, user, make_task_row
):
    # Drawn at /tasks/download/: relative links would send the search there, not to "/".
    make_task_row(user, status=Status.COMPLETED)

    response = page_client.get("/tasks/download/", {"ids": ["junk"], "format": "pdf"})

    html = response.content.decode()
    assert response.status_code == 400
    assert '<form method="get" action="/" class="search" role="search">' in html
    links = re.findall(r'<th scope="col"[^>]*><a href="([^"]*)"', html)
    assert links and all(link.startswith("/?") for link in links)
    assert not any("ids=" in link or "format=" in link for link in links)
