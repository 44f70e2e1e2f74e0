"""Uploads: every refusal leaves nothing behind; accepted files live under generated names."""

import hashlib
import io
import os
import re

import pytest
from django.core.files.storage import default_storage
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from PIL import Image

from audit.events import Outcome
from tasks.models import OcrTask
from tasks.uploads import display_name

from . import samples
from .conftest import API_TASKS, upload_file

PAGE = samples.make_text_image(samples.KNOWN_WORDS)
PNG = samples.encode_image(PAGE, format="PNG")
JPEG = samples.encode_image(PAGE, format="JPEG")
TWO_PAGE_PDF = samples.image_pdf_bytes([PAGE, samples.make_text_image(samples.SECOND_PAGE_WORDS)])

pytestmark = pytest.mark.django_db


@pytest.fixture
def upload_refused(
    user, client_for, api_upload, stored_files, audit_events, django_capture_on_commit_callbacks
):
    """POST files, assert the request left no file, task or job, and return the response."""

    def post(*files, **fields):
        client = client_for(user)
        # Commit callbacks run as they would in production: a queued job would show up.
        with django_capture_on_commit_callbacks(execute=True):
            response = api_upload(client, *files, **fields)
        assert response.status_code in (400, 413), response.content
        assert stored_files() == []
        assert not OcrTask.objects.exists()
        assert not DBTaskResult.objects.exists()
        assert audit_events("task_create") == []
        assert audit_events("file_upload", outcome=Outcome.SUCCESS) == []
        return response

    return post


@pytest.mark.parametrize(
    ("name", "data", "code", "message"),
    [
        (
            "page.png",
            b"<!DOCTYPE html><html><script>alert(1)</script></html>",
            "unsupported_type",
            "page.png: not a PNG, JPEG, TIFF, WebP, BMP or PDF file",
        ),
        ("empty.png", b"", "empty", "empty.png: file is empty."),
        (
            "bomb.png",
            samples.pixel_bomb_png_bytes(),
            "too_many_pixels",
            "bomb.png: Image has 10000000000 pixels; the limit is 50000000 pixels.",
        ),
        ("cut.png", samples.truncated(PNG), "corrupt", "cut.png: File is truncated or corrupt"),
        ("cut.jpg", samples.truncated(JPEG), "corrupt", "cut.jpg: File is truncated or corrupt"),
        (
            "cut.pdf",
            samples.truncated(TWO_PAGE_PDF),
            "corrupt",
            "cut.pdf: File is truncated or corrupt",
        ),
        (
            "locked.pdf",
            samples.encrypted_pdf_bytes(user_password="secret"),
            "encrypted",
            "locked.pdf: Encrypted PDFs are not supported.",
        ),
        (
            "restricted.pdf",
            samples.encrypted_pdf_bytes(user_password=""),
            "encrypted",
            "restricted.pdf: Encrypted PDFs are not supported.",
        ),
    ],
    ids=["html-named-png", "zero-bytes", "pixel-bomb", "cut-png", "cut-jpeg", "cut-pdf",
         "encrypted-pdf", "owner-password-pdf"],
)  # fmt: skip
def test_unfit_file_is_refused_with_nothing_stored(
    upload_refused, audit_events, user, name, data, code, message
):
    response = upload_refused(upload_file(data, name))

    assert response.status_code == 400
    [error] = response.json()["file"]
    assert error.startswith(message)
    [event] = audit_events("file_upload", outcome=Outcome.FAILURE)
    assert event.user == user
    assert event.message == error
    assert event.metadata == {"filename": name, "size": len(data), "reason": code}


def test_pdf_over_the_page_limit_is_refused(upload_refused, settings, audit_events):
    settings.OCR_MAX_PAGES = 1

    response = upload_refused(upload_file(TWO_PAGE_PDF, "long.pdf"))

    assert response.json() == {"file": ["long.pdf: PDF has 2 pages; the limit is 1."]}
    [event] = audit_events("file_upload", outcome=Outcome.FAILURE)
    assert event.metadata["reason"] == "too_many_pages"


def test_file_over_the_size_limit_is_refused_with_413(upload_refused, settings, audit_events):
    settings.OCR_MAX_FILE_BYTES = 1000

    response = upload_refused(upload_file(PNG, "big.png"))

    assert response.status_code == 413
    size, limit = filesizeformat(len(PNG)), filesizeformat(1000)
    assert limit == "1000\N{NO-BREAK SPACE}bytes"
    assert response.json() == {
        "detail": f"big.png: file is {size}; the limit is {limit}.",
        "code": "too_large",
    }
    [event] = audit_events("file_upload", outcome=Outcome.FAILURE)
    assert event.metadata == {"filename": "big.png", "size": len(PNG), "reason": "too_large"}


def test_body_over_the_request_limit_is_refused_unread(upload_refused, settings, audit_events):
    settings.OCR_MAX_FILE_BYTES = 1000
    settings.OCR_MAX_FILES_PER_REQUEST = 1
    body = upload_file(b"\x89PNG\r\n\x1a\n" + bytes(2 * 1024 * 1024), "huge.png")

    response = upload_refused(body)

    assert response.status_code == 413
    assert (
        "uploads are limited to 1 files of 1000\N{NO-BREAK SPACE}bytes" in response.json()["detail"]
    )
    [event] = audit_events("file_upload", outcome=Outcome.FAILURE)
    assert event.metadata["reason"] == "too_large"


def test_too_many_files_are_refused(upload_refused, settings, audit_events):
    settings.OCR_MAX_FILES_PER_REQUEST = 2

    response = upload_refused(*(upload_file(PNG, f"p{n}.png") for n in range(3)))

    assert response.json() == {"file": ["3 files sent; at most 2 files per upload."]}
    [event] = audit_events("file_upload", outcome=Outcome.FAILURE)
    assert event.metadata["reason"] == "too_many_files"


def test_request_without_a_file_is_refused(upload_refused):
    response = upload_refused(engine="tesseract")

    assert response.status_code == 400
    assert "file" in response.json()


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"engine": "abbyy"}, "engine", "Unknown engine “abbyy”"),
        ({"engine": "tesseract", "language": "klingon"}, "language", "“klingon”"),
        ({"engine": "rapidocr", "language": "eng"}, "language", "“eng”"),
    ],
)
def test_unknown_engine_or_language_is_refused_naming_the_field(
    upload_refused, fields, field, message
):
    response = upload_refused(upload_file(PNG), **fields)

    assert response.status_code == 400
    body = response.json()
    assert list(body) == [field]
    assert message in body[field][0]


@pytest.mark.parametrize(
    ("fields", "engine", "language"),
    [
        ({}, "tesseract", "eng"),
        ({"engine": "rapidocr"}, "rapidocr", "ch"),
        ({"engine": "rapidocr", "language": "en"}, "rapidocr", "en"),
        ({"engine": "", "language": ""}, "tesseract", "eng"),
    ],
)
def test_engine_and_language_default_sensibly(
    user, client_for, api_upload, fields, engine, language
):
    response = api_upload(client_for(user), upload_file(PNG), **fields)

    assert response.status_code == 201
    [body] = response.json()
    assert (body["engine"], body["language"]) == (engine, language)


def test_bad_second_file_refuses_the_whole_request(upload_refused, audit_events):
    response = upload_refused(
        upload_file(PNG, "good.png"), upload_file(samples.truncated(PNG), "bad.png")
    )

    assert response.json()["file"][0].startswith("bad.png: File is truncated or corrupt")
    [event] = audit_events("file_upload")
    assert (event.outcome, event.metadata["filename"]) == (Outcome.FAILURE, "bad.png")


def test_every_refused_file_is_named_not_only_the_first(upload_refused, audit_events):
    response = upload_refused(
        upload_file(samples.truncated(PNG), "cut.png"),
        upload_file(PNG, "good.png"),
        upload_file(b"", "empty.png"),
        upload_file(b"plain text", "notes.pdf"),
    )

    assert response.status_code == 400
    errors = response.json()["file"]
    assert len(errors) == 3
    assert errors[0].startswith("cut.png: File is truncated or corrupt")
    assert errors[1] == "empty.png: file is empty."
    assert errors[2].startswith("notes.pdf: not a PNG, JPEG, TIFF, WebP, BMP or PDF file")
    # One audited refusal per refused file; the good one is neither stored nor recorded.
    refused = audit_events("file_upload", outcome=Outcome.FAILURE)
    assert sorted((e.metadata["filename"], e.metadata["reason"]) for e in refused) == [
        ("cut.png", "corrupt"),
        ("empty.png", "empty"),
        ("notes.pdf", "unsupported_type"),
    ]
    assert sorted(e.message for e in refused) == sorted(errors)


def test_several_files_too_large_are_413_naming_each(upload_refused, settings):
    settings.OCR_MAX_FILE_BYTES = 1000

    response = upload_refused(upload_file(PNG, "one.png"), upload_file(JPEG, "two.jpg"))

    assert response.status_code == 413
    detail = response.json()["detail"]
    assert f"one.png: file is {filesizeformat(len(PNG))};" in detail
    assert f"two.jpg: file is {filesizeformat(len(JPEG))};" in detail


def test_a_valid_file_beside_refused_ones_is_not_stored_either(upload_refused, stored_files):
    response = upload_refused(
        upload_file(PNG, "invoice.png"),
        upload_file(b"plain text, not an image", "notes.png"),
        upload_file(b"", "empty.png"),
    )

    # The API keeps its shape: one "<name>: <reason>" per refused file, the valid one unnamed.
    assert response.status_code == 400
    assert response.json() == {
        "file": [
            "notes.png: not a PNG, JPEG, TIFF, WebP, BMP or PDF file (judged by its content, "
            "not its name).",
            "empty.png: file is empty.",
        ]
    }
    assert stored_files() == []
    assert not OcrTask.objects.exists()


def test_a_size_refusal_beside_another_refusal_is_400(upload_refused, settings):
    settings.OCR_MAX_FILE_BYTES = 1000

    response = upload_refused(upload_file(PNG, "big.png"), upload_file(b"", "empty.png"))

    assert response.status_code == 400
    assert [error.split(":")[0] for error in response.json()["file"]] == ["big.png", "empty.png"]


def test_accepted_upload_is_stored_under_a_generated_name(
    user, client_for, api_upload, stored_files, file_store
):
    # A PNG the client calls a JPEG: the bytes decide the type and the extension.
    response = api_upload(client_for(user), upload_file(PNG, "holiday photo.jpg"))

    assert response.status_code == 201, response.content
    [body] = response.json()
    task = OcrTask.objects.get(pk=body["id"])
    now = timezone.now()
    assert re.fullmatch(rf"uploads/{now:%Y}/{now:%m}/[0-9a-f]{{32}}\.png", task.file.name)
    assert stored_files() == [task.file.name]
    assert file_store.read(task.file.name) == PNG
    if file_store.is_local:
        mode = os.stat(default_storage.path(task.file.name)).st_mode
        assert mode & 0o777 == 0o640
    assert body["sha256"] == task.sha256 == hashlib.sha256(PNG).hexdigest()
    assert (body["original_name"], body["content_type"], body["size"]) == (
        "holiday photo.jpg",
        "image/png",
        len(PNG),
    )
    assert (body["status"], body["page_count"], body["pages_done"]) == ("queued", 1, 0)


@pytest.mark.parametrize(
    ("data", "extension", "content_type", "pages"),
    [
        (JPEG, "jpg", "image/jpeg", 1),
        (samples.multipage_tiff_bytes([PAGE, PAGE, PAGE]), "tiff", "image/tiff", 3),
        (samples.encode_image(PAGE, format="WEBP"), "webp", "image/webp", 1),
        (samples.encode_image(PAGE, format="BMP"), "bmp", "image/bmp", 1),
        (TWO_PAGE_PDF, "pdf", "application/pdf", 2),
    ],
    ids=["jpeg", "tiff", "webp", "bmp", "pdf"],
)
def test_each_accepted_type_is_stored_with_its_own_extension(
    user, make_task, stored_files, data, extension, content_type, pages
):
    task = make_task(user, upload_file(data, "document"))

    assert task.file.name.endswith(f".{extension}")
    assert (task.content_type, task.page_count) == (content_type, pages)
    assert stored_files() == [task.file.name]


def test_several_files_make_one_task_each(user, client_for, api_upload, stored_files):
    response = api_upload(
        client_for(user), upload_file(PNG, "one.png"), upload_file(TWO_PAGE_PDF, "two.pdf")
    )

    assert response.status_code == 201
    assert [(t["original_name"], t["page_count"]) for t in response.json()] == [
        ("one.png", 1),
        ("two.pdf", 2),
    ]
    assert len(stored_files()) == 2
    assert len({task.file.name for task in OcrTask.objects.all()}) == 2


def test_path_in_the_client_file_name_is_dropped(user, client_for, media_root):
    # Built by hand: Django's test client would strip the path before sending it.
    boundary = "----pytestboundary"
    body = (
        (
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="file"; filename="../../etc/passwd"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + PNG
        + f"\r\n--{boundary}--\r\n".encode()
    )

    response = client_for(user).generic(
        "POST", API_TASKS, body, content_type=f"multipart/form-data; boundary={boundary}"
    )

    assert response.status_code == 201, response.content
    task = OcrTask.objects.get()
    assert task.original_name == "passwd"
    assert task.file.name.startswith("uploads/")
    assert not (media_root.parent / "etc").exists()


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\windows\\system.ini", "system.ini"),
        ("/absolute/scan.png", "scan.png"),
        ("", "upload"),
        ("folder/", "upload"),
        ("invoice\u202egnp.exe", "invoice\\u202egnp.exe"),
        ("line\r\nbreak.png", "line\\u000d\\u000abreak.png"),
    ],
)
def test_display_name_keeps_only_the_last_path_part_as_plain_text(raw, shown):
    assert display_name(raw) == shown


def test_display_name_is_bounded_to_its_column():
    assert len(display_name("a" * 1000 + ".png")) == 255


def test_stored_file_is_the_exact_upload(user, make_task, file_store):
    data = samples.multipage_tiff_bytes([PAGE, PAGE])

    task = make_task(user, upload_file(data, "scan.tiff"))

    stored = file_store.read(task.file.name)
    assert hashlib.sha256(stored).hexdigest() == task.sha256
    assert task.size == len(data) == len(stored)
    with Image.open(io.BytesIO(stored)) as image:
        assert image.n_frames == 2
