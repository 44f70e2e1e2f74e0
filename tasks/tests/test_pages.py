"""Server-rendered task pages: list, upload, detail, downloads, retry, delete."""

import io
import re
from datetime import timedelta
from urllib.parse import quote

import pytest
from PIL import Image

from audit.events import Outcome
from tasks.models import OcrTask, Status

from . import samples
from .conftest import upload_file
from .samples import words_in

PAGE = samples.make_text_image(samples.KNOWN_WORDS)
SECOND_PAGE = samples.make_text_image(samples.SECOND_PAGE_WORDS)
PNG = samples.encode_image(PAGE, format="PNG")
HOSTILE_NAME = "<script>alert(1)<script>.png"

pytestmark = pytest.mark.django_db


def task_urls(task) -> list[str]:
    """Return every page of one task (GET)."""
    base = f"/tasks/{task.pk}"
    return [
        f"{base}/",
        f"{base}/pages/1.png",
        f"{base}/download.txt",
        f"{base}/download.json",
        f"{base}/original/",
        f"{base}/delete/",
    ]


def row_ids(html: str) -> list[str]:
    return re.findall(r'<tr id="task-([0-9a-f-]+)"', html)


def test_list_shows_own_tasks_newest_first(page_client, user, other_user, make_task_row):
    old = make_task_row(user, age=timedelta(days=1))
    new = make_task_row(user)
    make_task_row(other_user)

    response = page_client.get("/")

    assert response.status_code == 200
    assert row_ids(response.content.decode()) == [str(new.pk), str(old.pk)]


def test_list_filters_by_status(page_client, user, make_task_row):
    make_task_row(user, status=Status.COMPLETED)
    failed = make_task_row(user, status=Status.FAILED, error="The scanner ate it.")

    html = page_client.get("/?status=failed").content.decode()

    assert row_ids(html) == [str(failed.pk)]
    assert "The scanner ate it." in html


def test_list_is_paginated_keeping_the_filter(page_client, user, make_task_row):
    tasks = [make_task_row(user, status=Status.FAILED, age=timedelta(minutes=n)) for n in range(21)]
    make_task_row(user, status=Status.COMPLETED)

    first = page_client.get("/?status=failed").content.decode()
    second = page_client.get("/?status=failed&page=2").content.decode()

    assert row_ids(first) == [str(task.pk) for task in tasks[:20]]
    assert row_ids(second) == [str(tasks[20].pk)]
    assert 'href="/?status=failed&amp;page=2"' in first
    assert "Page 2 of 2" in second


def test_empty_list_invites_an_upload(page_client):
    html = page_client.get("/").content.decode()

    assert "No tasks yet." in html
    assert 'href="/tasks/upload/"' in html


def test_rows_partial_returns_only_own_rows_and_ignores_junk(
    page_client, user, other_user, make_task_row
):
    mine = make_task_row(user, status=Status.PROCESSING, pages_done=1, page_count=4)
    theirs = make_task_row(other_user)
    ids = ",".join([str(mine.pk), "junk", str(theirs.pk), "", "1; DROP TABLE", str(mine.pk)])

    response = page_client.get(f"/tasks/rows/?ids={quote(ids)}")

    assert response.status_code == 200
    html = response.content.decode()
    assert row_ids(html) == [str(mine.pk)]
    assert "<html" not in html and "<table" not in html
    assert "1/4" in html and 'value="25"' in html


def test_rows_partial_without_ids_is_empty(page_client, user, make_task_row):
    make_task_row(user)

    response = page_client.get("/tasks/rows/")

    assert (response.status_code, row_ids(response.content.decode())) == (200, [])


def test_progress_reports_only_own_tasks(page_client, user, other_user, make_task_row):
    mine = make_task_row(user, status=Status.PROCESSING, pages_done=1, page_count=3)
    theirs = make_task_row(other_user)

    response = page_client.get(f"/tasks/progress/?ids={mine.pk},{theirs.pk},nonsense")

    assert response.json() == {
        "tasks": [
            {
                "id": str(mine.pk),
                "status": "processing",
                "pages_done": 1,
                "page_count": 3,
                "percent": 33,
                "phase": "rendering",
                "phase_label": "Rendering",
            }
        ]
    }


def test_upload_page_offers_engines_and_languages(page_client):
    html = page_client.get("/tasks/upload/").content.decode()

    assert 'enctype="multipart/form-data"' in html
    assert re.search(r'<input type="file" name="file"[^>]*multiple', html)
    assert '<option value="tesseract" selected>Tesseract</option>' in html
    assert '<option value="rapidocr">RapidOCR</option>' in html
    # Each language marked with the engine that reads it (tasks.js offers only those).
    for language, engine in (("eng", "tesseract"), ("en", "rapidocr"), ("ch", "rapidocr")):
        assert f'<option value="{language}" data-engine="{engine}">' in html


def test_upload_page_states_the_size_limit_as_people_read_it(page_client, settings):
    # 1.5 MB: whole megabytes would have said "1 MB", less than is allowed.
    settings.OCR_MAX_FILE_BYTES = 1536 * 1024
    settings.OCR_MAX_FILES_PER_REQUEST = 3

    html = page_client.get("/tasks/upload/").content.decode()

    assert "up to 3 files of 1.5\N{NO-BREAK SPACE}MB," in html


def test_upload_page_creates_one_task_per_file(
    page_client, user, stored_files, django_capture_on_commit_callbacks
):
    pdf = samples.image_pdf_bytes([PAGE, SECOND_PAGE])

    with django_capture_on_commit_callbacks(execute=True):
        response = page_client.post(
            "/tasks/upload/",
            {
                "file": [upload_file(PNG, "one.png"), upload_file(pdf, "two.pdf")],
                "engine": "rapidocr",
                "language": "en",
            },
            follow=True,
        )

    assert response.redirect_chain == [("/", 302)]
    assert "2 documents queued for OCR." in response.content.decode()
    tasks = OcrTask.objects.order_by("original_name")
    assert [(t.original_name, t.page_count, t.engine, t.language) for t in tasks] == [
        ("one.png", 1, "rapidocr", "en"),
        ("two.pdf", 2, "rapidocr", "en"),
    ]
    assert all(task.owner == user for task in tasks)
    assert len(stored_files()) == 2


def test_upload_page_uses_the_default_engine(page_client):
    response = page_client.post("/tasks/upload/", {"file": [upload_file(PNG)]})

    assert response.status_code == 302
    task = OcrTask.objects.get()
    assert (task.engine, task.language) == ("tesseract", "eng")


@pytest.mark.parametrize(
    ("files", "fields", "message"),
    [
        (
            [upload_file(samples.truncated(PNG), "cut.png")],
            {},
            "cut.png — not stored: File is truncated",
        ),
        ([upload_file(b"", "empty.png")], {}, "empty.png — not stored: file is empty."),
        ([upload_file(b"<html></html>", "x.png")], {}, "x.png — not stored: not a PNG, JPEG"),
        ([], {}, "Choose at least one file to upload."),
        ([upload_file(PNG)], {"engine": "abbyy"}, "Select a valid choice."),
        (
            [upload_file(PNG)],
            {"engine": "rapidocr", "language": "eng"},
            "Engine “rapidocr” does not read language “eng”",
        ),
    ],
    ids=["truncated", "empty", "not-an-image", "no-file", "unknown-engine", "wrong-language"],
)
def test_upload_page_refusal_shows_why_and_stores_nothing(
    page_client, stored_files, files, fields, message
):
    response = page_client.post("/tasks/upload/", {"file": files, **fields})

    assert response.status_code == 400
    assert message in response.content.decode()
    assert stored_files() == []
    assert not OcrTask.objects.exists()


def test_upload_page_names_every_refused_file(page_client, stored_files):
    files = [upload_file(b"", "empty.png"), upload_file(b"just text", "notes.png")]
    response = page_client.post("/tasks/upload/", {"file": files})

    assert response.status_code == 400
    html = response.content.decode()
    assert "Nothing was stored." in html
    assert "empty.png — not stored: file is empty." in html
    assert "notes.png — not stored: not a PNG, JPEG, TIFF, WebP, BMP or PDF file" in html
    assert stored_files() == []
    assert not OcrTask.objects.exists()


MIXED_UPLOAD_LINES = {
    "en": (
        "Nothing was stored.",
        [
            "invoice.png — not stored because other files were refused",
            "notes.png — not stored: not a PNG, JPEG, TIFF, WebP, BMP or PDF file (judged by "
            "its content, not its name).",
            "empty.png — not stored: file is empty.",
        ],
    ),
    "zh-hans": (
        "未保存任何文件。",
        [
            "invoice.png —— 未保存\N{FULLWIDTH COMMA}因为其他文件被拒绝",
            "notes.png —— 未保存\N{FULLWIDTH COLON}不是 PNG、JPEG、TIFF、WebP、BMP 或 PDF 文件"
            "\N{FULLWIDTH LEFT PARENTHESIS}根据文件内容判断\N{FULLWIDTH COMMA}而非文件名"
            "\N{FULLWIDTH RIGHT PARENTHESIS}。",
            "empty.png —— 未保存\N{FULLWIDTH COLON}文件为空。",
        ],
    ),
}


@pytest.mark.parametrize("language", MIXED_UPLOAD_LINES)
def test_upload_page_mixed_upload_says_every_file_was_not_stored(
    page_client, settings, stored_files, audit_events, language
):
    # All or nothing, and the page must say the good file was dropped too.
    page_client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    files = [
        upload_file(PNG, "invoice.png"),
        upload_file(b"plain text, not an image", "notes.png"),
        upload_file(b"", "empty.png"),
    ]

    response = page_client.post("/tasks/upload/", {"file": files})

    assert response.status_code == 400
    html = response.content.decode()
    block = re.search(r'<div class="error" role="alert" id="not-stored">(.*?)</div>', html, re.S)
    assert block is not None, html
    heading, lines = MIXED_UPLOAD_LINES[language]
    assert f"<strong>{heading}</strong>" in block[1]
    assert re.findall(r"<li>(.*?)</li>", block[1], re.S) == lines
    assert stored_files() == []
    assert not OcrTask.objects.exists()
    refused = audit_events("file_upload", outcome=Outcome.FAILURE)
    assert [event.metadata["reason"] for event in refused] == ["unsupported_type", "empty"]
    assert audit_events("file_upload", outcome=Outcome.SUCCESS) == []


def test_upload_page_refusal_is_audited(page_client, user, audit_events):
    page_client.post("/tasks/upload/", {"file": [upload_file(b"", "empty.png")]})

    [event] = audit_events("file_upload")
    assert (event.outcome, event.user) == (Outcome.FAILURE, user)
    assert event.metadata == {"filename": "empty.png", "size": 0, "reason": "empty"}


def test_upload_page_refuses_an_oversized_body(page_client, settings, stored_files):
    settings.OCR_MAX_FILE_BYTES = 1000
    settings.OCR_MAX_FILES_PER_REQUEST = 1

    response = page_client.post(
        "/tasks/upload/", {"file": [upload_file(PNG + bytes(2 * 1024 * 1024))]}
    )

    assert response.status_code == 413
    assert (
        "uploads are limited to 1 files of 1000\N{NO-BREAK SPACE}bytes" in response.content.decode()
    )
    assert stored_files() == []


def test_hostile_file_name_is_shown_escaped(page_client, user, make_task):
    task = make_task(user, upload_file(PNG, HOSTILE_NAME))

    pages = [
        page_client.get("/"),
        page_client.get(f"/tasks/rows/?ids={task.pk}"),
        page_client.get(f"/tasks/{task.pk}/"),
        page_client.get(f"/tasks/{task.pk}/delete/"),
    ]

    assert task.original_name == HOSTILE_NAME
    for response in pages:
        html = response.content.decode()
        assert "&lt;script&gt;alert(1)&lt;script&gt;.png" in html
        assert "<script>alert" not in html


def test_detail_page_shows_each_pages_text_and_confidence(page_client, user, make_task, processed):
    tiff = samples.multipage_tiff_bytes([PAGE, SECOND_PAGE])
    task = processed(make_task(user, upload_file(tiff, "fax.tiff")))
    first, second = task.pages.order_by("index")

    html = page_client.get(f"/tasks/{task.pk}/").content.decode()

    for number, page in ((1, first), (2, second)):
        section = html.split(f'id="page-{number}"')[1].split("</section>")[0]
        assert f"Page {number}" in section
        assert f"confidence {page.confidence:.1f}%" in section
        assert f'src="/tasks/{task.pk}/pages/{number}.png"' in section
        assert f"<pre>{page.text}</pre>" in section
    assert set(samples.KNOWN_WORDS) <= words_in(first.text)
    assert set(samples.SECOND_PAGE_WORDS) <= words_in(second.text)
    assert f'href="/tasks/{task.pk}/download.txt"' in html
    assert f'href="/tasks/{task.pk}/download.json"' in html
    assert "2/2" in html


def test_detail_page_of_a_text_layer_pdf_says_so(page_client, user, make_task, processed):
    pdf = samples.text_pdf_bytes([samples.TEXT_LAYER_LINES])
    task = processed(make_task(user, upload_file(pdf, "report.pdf")))

    html = page_client.get(f"/tasks/{task.pk}/").content.decode()

    assert "PDF text layer" in html
    assert samples.TEXT_LAYER_LINES[0] in html


def test_detail_page_of_a_failed_task_shows_the_error_and_retry(page_client, user, make_task_row):
    task = make_task_row(user, status=Status.FAILED, error="OCR failed: <b>boom</b>")

    html = page_client.get(f"/tasks/{task.pk}/").content.decode()

    assert "OCR failed: &lt;b&gt;boom&lt;/b&gt;" in html
    assert f'action="/tasks/{task.pk}/retry/"' in html
    assert "download.txt" not in html
    assert "Not read yet." in html


def test_downloads_are_attachments(page_client, user, make_task, processed):
    task = processed(make_task(user, upload_file(PNG, "receipt.png")))

    text = page_client.get(f"/tasks/{task.pk}/download.txt")
    document = page_client.get(f"/tasks/{task.pk}/download.json")

    assert text["Content-Type"] == "text/plain; charset=utf-8"
    assert text["Content-Disposition"] == 'attachment; filename="receipt.txt"'
    assert set(samples.KNOWN_WORDS) <= words_in(text.content.decode())
    assert document["Content-Type"] == "application/json"
    assert document["Content-Disposition"] == 'attachment; filename="receipt.json"'
    body = document.json()
    assert body["pages"][0]["text"] == task.result_text
    assert body["pages"][0]["lines"]


def test_downloads_of_an_unfinished_task_or_unknown_format_are_404(
    page_client, user, make_task, processed, make_task_row
):
    queued = make_task_row(user)
    done = processed(make_task(user))

    assert page_client.get(f"/tasks/{queued.pk}/download.txt").status_code == 404
    assert page_client.get(f"/tasks/{done.pk}/download.exe").status_code == 404


@pytest.mark.parametrize(
    ("data", "number", "size"),
    [
        (PNG, 1, PAGE.size),
        (samples.multipage_tiff_bytes([PAGE, SECOND_PAGE]), 2, SECOND_PAGE.size),
        # 150 dpi scan previewed at 100 dpi.
        (samples.image_pdf_bytes([PAGE, SECOND_PAGE]), 2, (800, 200)),
    ],
    ids=["png", "tiff-page-2", "pdf-page-2"],
)
def test_page_image_is_a_png_preview(page_client, user, make_task, data, number, size):
    task = make_task(user, upload_file(data, "doc"))

    response = page_client.get(f"/tasks/{task.pk}/pages/{number}.png")

    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    with Image.open(io.BytesIO(response.content)) as image:
        assert (image.format, image.size) == ("PNG", size)


def test_page_image_outside_the_document_is_404(page_client, user, make_task):
    task = make_task(user)

    assert page_client.get(f"/tasks/{task.pk}/pages/0.png").status_code == 404
    assert page_client.get(f"/tasks/{task.pk}/pages/2.png").status_code == 404


def test_page_image_of_a_missing_file_is_404(page_client, user, make_task, file_store):
    task = make_task(user)
    file_store.delete(task.file.name)

    assert page_client.get(f"/tasks/{task.pk}/pages/1.png").status_code == 404
    assert page_client.get(f"/tasks/{task.pk}/original/").status_code == 404


def test_original_download_is_the_uploaded_file(page_client, user, make_task):
    task = make_task(user, upload_file(PNG, "my scan.png"))

    response = page_client.get(f"/tasks/{task.pk}/original/")

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PNG
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"] == 'attachment; filename="my scan.png"'


def test_delete_asks_then_deletes(
    page_client, user, make_task, stored_files, django_capture_on_commit_callbacks
):
    task = make_task(user, upload_file(PNG, "bye.png"))

    confirm = page_client.get(f"/tasks/{task.pk}/delete/")
    assert confirm.status_code == 200
    assert OcrTask.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        response = page_client.post(f"/tasks/{task.pk}/delete/", follow=True)

    assert response.redirect_chain == [("/", 302)]
    assert "Deleted “bye.png”." in response.content.decode()
    assert not OcrTask.objects.exists()
    assert stored_files() == []


def test_retry_page_requeues_a_failed_task(page_client, user, make_task, file_store, processed):
    task = make_task(user)
    good = file_store.read(task.file.name)
    file_store.write(task.file.name, b"garbage")
    assert processed(task).status == Status.FAILED
    file_store.write(task.file.name, good)

    response = page_client.post(f"/tasks/{task.pk}/retry/", follow=True)

    assert response.redirect_chain == [(f"/tasks/{task.pk}/", 302)]
    assert "Task queued again." in response.content.decode()
    task.refresh_from_db()
    assert (task.status, task.error) == (Status.QUEUED, "")
    assert processed(task).status == Status.COMPLETED


def test_retry_page_refuses_a_completed_task(page_client, user, make_task, processed):
    task = processed(make_task(user))

    response = page_client.post(f"/tasks/{task.pk}/retry/", follow=True)

    assert "Only failed tasks can be retried; this one is completed." in response.content.decode()
    task.refresh_from_db()
    assert task.status == Status.COMPLETED


def test_retry_needs_post(page_client, user, make_task_row):
    task = make_task_row(user, status=Status.FAILED)

    assert page_client.get(f"/tasks/{task.pk}/retry/").status_code == 405


def test_another_users_task_is_404_on_every_page(
    page_client, other_user, make_task, processed, stored_files
):
    task = processed(make_task(other_user))

    responses = [page_client.get(url) for url in task_urls(task)]
    responses += [
        page_client.post(f"/tasks/{task.pk}/retry/"),
        page_client.post(f"/tasks/{task.pk}/delete/"),
    ]

    assert [response.status_code for response in responses] == [404] * 8
    assert OcrTask.objects.get().status == Status.COMPLETED
    assert stored_files() == sorted([task.file.name, task.searchable_pdf.name])


def test_anonymous_visitor_is_sent_to_log_in(client, user, make_task):
    task = make_task(user)
    urls = ["/", "/tasks/upload/"]
    urls += task_urls(task)

    for url in urls:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"] == f"/accounts/login/?next={quote(url, safe='/')}", url
    for url in (f"/tasks/{task.pk}/retry/", f"/tasks/{task.pk}/delete/", "/tasks/upload/"):
        assert client.post(url).status_code == 302, url
    assert OcrTask.objects.count() == 1


def test_polls_without_a_session_are_answered_401_not_redirected(client, user, make_task):
    # fetch() follows a redirect to the login page and sees a 200; a 401 it can act on.
    task = make_task(user)

    for url in (f"/tasks/rows/?ids={task.pk}", f"/tasks/progress/?ids={task.pk}"):
        response = client.get(url, headers={"Accept": "application/json"})
        assert response.status_code == 401, url
        assert response.json() == {"detail": "Your session has ended.", "code": "session_ended"}
        assert response["Cache-Control"] == "no-store"


def test_upload_posted_without_a_session_says_so_on_the_login_page(client):
    response = client.post("/tasks/upload/")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/tasks/upload/&reason=session_ended"
    english = client.get(response["Location"]).content.decode()
    assert "your upload was not sent — sign in and choose the files again." in english
    chinese = client.get(response["Location"], headers={"Accept-Language": "zh-hans"})
    assert "上传的文件未发送——请登录后重新选择文件。" in chinese.content.decode()
    # Arriving for another page, the login page says the session ended, not the upload.
    other = client.get("/accounts/login/?next=/&reason=session_ended").content.decode()
    assert "Your session has ended. Sign in again to continue." in other
    assert "upload" not in other


def test_a_form_posted_without_a_session_goes_back_to_its_page_saying_it_was_not_done(
    client, user, make_task
):
    # A re-run, delete or bulk form sent from a tab whose session ended elsewhere ("log
    # out everywhere"): login's next= used to be the form's POST-only URL, so signing in
    # again ended on a 405 page, and nothing said the click had done nothing.
    task = make_task(user)
    detail = f"http://testserver/tasks/{task.pk}/"
    for url in (f"/tasks/{task.pk}/rerun/", f"/tasks/{task.pk}/delete/", "/tasks/delete/"):
        response = client.post(url, {"ids": [str(task.pk)]}, headers={"Referer": detail})
        assert response.status_code == 302, url
        assert response["Location"] == (
            f"/accounts/login/?next=/tasks/{task.pk}/&reason=form_not_sent"
        ), url
    # From another site, or with no Referer: back to the task list, never off the site.
    for referer in ("https://elsewhere.example/tasks/", None):
        headers = {"Referer": referer} if referer else {}
        response = client.post("/accounts/logout-all/", headers=headers)
        assert response["Location"] == "/accounts/login/?next=/&reason=form_not_sent"
    assert OcrTask.objects.filter(pk=task.pk).exists()

    english = client.get("/accounts/login/?next=/&reason=form_not_sent").content.decode()
    assert "Your session had ended, so that was not done. Sign in and try again." in english
    chinese = client.get(
        "/accounts/login/?next=/&reason=form_not_sent", headers={"Accept-Language": "zh-hans"}
    ).content.decode()
    assert "您的会话已结束，刚才的操作未执行。请登录后重试。" in chinese  # noqa: RUF001
