"""Hostile input: each gets a clear 4xx or is stored and shown escaped, and nothing is left
half-written on disk or in the database.

Files, filenames, headers, bodies, JSON, audit filters, JWTs and CSRF-less form posts,
through the real HTTP stack.
"""

import base64
import json
import re
import threading
from datetime import timedelta
from urllib.parse import urlencode

import jwt
import pytest
from axes.models import AccessAttempt
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django_tasks_db.models import DBTaskResult
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from audit.events import Outcome
from audit.models import AuditEvent
from audit.tests.fixtures import PASSWORD, drain_sealer, sealed
from tasks.models import OcrTask, Status
from tasks.services.creation import task_create_batch
from tasks.tests import samples

pytestmark = pytest.mark.django_db

API_TASKS = "/api/v2/tasks"
AUDIT_LOGS = "/api/v2/admin/audit-logs"
JWT_LOGIN = "/api/v2/auth/login"
JWT_REFRESH = "/api/v2/auth/refresh"
REMOTE = "203.0.113.7"

PAGE = samples.make_text_image(samples.KNOWN_WORDS)
PNG = samples.encode_image(PAGE, format="PNG")
JPEG = samples.encode_image(PAGE, format="JPEG")
PDF = samples.text_pdf_bytes([samples.TEXT_LAYER_LINES])
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"
# Controls that would forge a second log line, recolour a terminal or reverse the text.
CONTROL_SOUP = "evil\r\n2026-01-01 INFO audit forged line\x1b[31mred\x1b[0m\u202egnp"
ESCAPED_SOUP = (
    "evil\\u000d\\u000a2026-01-01 INFO audit forged line\\u001b[31mred\\u001b[0m\\u202egnp"
)
XSS_NAME = "<img src=x onerror=alert(1)>.png"
XSS_USERNAME = "<script>alert(1)</script>"


def xref_offsets_wrong(pdf: bytes) -> bytes:
    """Return the PDF with every xref offset pointing nowhere (PDFium rebuilds the table)."""
    at = pdf.index(b"\nxref\n")
    return pdf[:at] + re.sub(rb"\d{10} 00000 n", b"9999999999 00000 n", pdf[at:])


def xref_unrecoverable(pdf: bytes) -> bytes:
    """Return the PDF with no usable objects and a trailer without a root."""
    at = pdf.index(b"\nxref\n")
    body = pdf[:at].replace(b" obj", b" jbo")
    return body + b"\nxref\ngarbage\ntrailer\n<< /Size 3 >>\nstartxref\n999999\n%%EOF\n"


def upload(data: bytes, name: str = "scan.png") -> SimpleUploadedFile:
    # The client's content type is deliberately generic: only the bytes count.
    return SimpleUploadedFile(name, data, content_type="application/octet-stream")


def multipart_with_disposition(disposition: str, data: bytes) -> tuple[bytes, str]:
    """Return a multipart body whose file part carries a raw Content-Disposition tail."""
    boundary = "HostileBoundary7MA4YWxk"
    head = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="file"; {disposition}\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode("latin-1")
    body = head + data + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


@pytest.fixture
def owner_client(user, client_for):
    return client_for(user)


def events(event_type: str, **filters) -> list[AuditEvent]:
    drain_sealer()
    return list(AuditEvent.objects.filter(event_type=event_type, **filters).order_by("sequence"))


def assert_nothing_stored(stored_files) -> None:
    assert stored_files() == []
    assert not OcrTask.objects.exists()
    assert not DBTaskResult.objects.exists()
    assert events("task_create") == []
    assert events("file_upload", outcome=Outcome.SUCCESS) == []


def assert_escaped(content: bytes, raw: str) -> None:
    """Assert the page shows `raw` only as escaped text, never as markup."""
    text = content.decode()
    assert raw not in text
    assert raw.replace("<", "&lt;").replace(">", "&gt;") in text


# --- Files -----------------------------------------------------------------------------

SVG = b"<svg xmlns='http://www.w3.org/2000/svg'>" + HTML
CLAIMS_5000_PAGES = PDF.replace(b"/Count 1", b"/Count 5000")
CLAIMS_3_PAGES = PDF.replace(b"/Count 1", b"/Count 3")
PAGES_2000 = samples.blank_pdf_bytes(page_count=2000)
ENCRYPTED = samples.encrypted_pdf_bytes(user_password="secret")
OWNER_PASSWORD_ONLY = samples.encrypted_pdf_bytes(user_password="")

UNFIT_FILES = [
    ("wrong-magic", "scan.png", b"MZ\x90\x00\x03" + bytes(200), "unsupported_type"),
    ("html-named-png", "scan.png", HTML, "unsupported_type"),
    ("svg-with-script", "scan.png", SVG, "unsupported_type"),
    ("html-with-png-magic", "scan.png", PNG_SIGNATURE + HTML, "corrupt"),
    ("html-before-pdf-header", "doc.pdf", HTML + PDF, "unsupported_type"),
    ("zero-bytes", "empty.png", b"", "empty"),
    ("truncated-png", "cut.png", samples.truncated(PNG), "corrupt"),
    ("truncated-jpeg", "cut.jpg", samples.truncated(JPEG), "corrupt"),
    ("truncated-pdf", "cut.pdf", samples.truncated(PDF), "corrupt"),
    ("pixel-bomb", "bomb.png", samples.pixel_bomb_png_bytes(), "too_many_pixels"),
    ("pdf-claiming-5000-pages", "many.pdf", CLAIMS_5000_PAGES, "too_many_pages"),
    ("pdf-claiming-3-pages-with-1", "lie.pdf", CLAIMS_3_PAGES, "corrupt"),
    ("pdf-with-2000-pages", "long.pdf", PAGES_2000, "too_many_pages"),
    ("encrypted-pdf", "locked.pdf", ENCRYPTED, "encrypted"),
    ("owner-password-pdf", "restricted.pdf", OWNER_PASSWORD_ONLY, "encrypted"),
    ("broken-xref-pdf", "xref.pdf", xref_unrecoverable(PDF), "corrupt"),
]


@pytest.mark.parametrize(
    ("name", "data", "code"),
    [case[1:] for case in UNFIT_FILES],
    ids=[case[0] for case in UNFIT_FILES],
)
def test_unfit_file_is_refused_and_leaves_nothing_behind(
    owner_client, user, stored_files, django_capture_on_commit_callbacks, name, data, code
):
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(API_TASKS, {"file": [upload(data, name)]})

    assert response.status_code == 400, response.content
    [error] = response.json()["file"]
    assert error.startswith(f"{name}: ")
    assert_nothing_stored(stored_files)
    [event] = events("file_upload", outcome=Outcome.FAILURE)
    assert (event.user, event.metadata["reason"], event.metadata["filename"]) == (user, code, name)


def test_unfit_file_through_the_upload_page_is_refused_too(owner_client, stored_files):
    response = owner_client.post("/tasks/upload/", {"file": [upload(PNG_SIGNATURE + HTML)]})

    assert response.status_code == 400
    assert "scan.png — not stored: File is truncated or corrupt" in response.content.decode()
    assert_nothing_stored(stored_files)


def test_png_with_html_appended_is_accepted_as_png_and_never_served_as_html(
    owner_client, stored_files
):
    # A valid PNG is a PNG whatever trails it; what matters is that it is never served
    # in a way a browser would render as a page.
    response = owner_client.post(API_TASKS, {"file": [upload(PNG + HTML, "poly.html")]})

    assert response.status_code == 201, response.content
    task = OcrTask.objects.get()
    assert (task.content_type, task.original_name) == ("image/png", "poly.html")
    assert task.file.name.endswith(".png")
    served = owner_client.get(f"/tasks/{task.pk}/original/")
    assert served["Content-Type"] == "image/png"
    assert served["X-Content-Type-Options"] == "nosniff"
    assert served["Content-Disposition"].startswith("attachment;")
    assert b"".join(served.streaming_content) == PNG + HTML


@pytest.mark.django_db(transaction=True)
def test_pdf_with_a_repairable_xref_is_accepted_and_read(owner_client, stored_files, settings):
    # PDFium rebuilds a wrong xref table by scanning the objects, as every viewer does;
    # the document is then whole, so it is accepted and the worker reads it.
    response = owner_client.post(API_TASKS, {"file": [upload(xref_offsets_wrong(PDF), "x.pdf")]})

    assert response.status_code == 201, response.content
    call_command("ocr_worker", "--batch", "--no-startup-delay", "--no-reload", verbosity=0)
    task = OcrTask.objects.get()
    assert task.status == Status.COMPLETED, task.error
    assert "harbour" in task.result_text


@pytest.mark.django_db(transaction=True)
def test_worker_survives_a_file_corrupted_after_upload(user, stored_files, file_store):
    first, second = (
        task_create_batch(owner=user, uploads=[upload(PNG, f"{name}.png")])[0]
        for name in ("damaged", "fine")
    )
    file_store.write(first.file.name, PNG_SIGNATURE + HTML)

    call_command("ocr_worker", "--batch", "--no-startup-delay", "--no-reload", verbosity=0)

    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == Status.FAILED
    assert first.error
    assert second.status == Status.COMPLETED


# --- File names ------------------------------------------------------------------------

HOSTILE_NAMES = [
    ("dot-dot-slash", 'filename="../../etc/passwd"', "passwd"),
    ("dot-dot-backslash", 'filename="..\\x.png"', "x.png"),
    ("absolute", 'filename="/abs.png"', "abs.png"),
    ("encoded-traversal", "filename*=UTF-8''..%2F..%2Fetc%2Fpasswd", "passwd"),
    ("nul", "filename*=UTF-8''nul%00byte.png", "nulbyte.png"),
    ("right-to-left-override", "filename*=UTF-8''invoice%E2%80%AEgnp.exe", "invoicegnp.exe"),
    ("cr-lf-ansi", "filename*=UTF-8''evil%0D%0Aline%1B%5B31m.png", "evilline[31m.png"),
]


@pytest.mark.parametrize(
    ("disposition", "shown"),
    [case[1:] for case in HOSTILE_NAMES],
    ids=[case[0] for case in HOSTILE_NAMES],
)
def test_hostile_file_name_is_data_and_the_stored_name_is_generated(
    owner_client, stored_files, media_root, disposition, shown
):
    body, content_type = multipart_with_disposition(disposition, PNG)

    response = owner_client.post(API_TASKS, body, content_type=content_type)

    assert response.status_code == 201, response.content
    task = OcrTask.objects.get()
    assert task.original_name == shown
    assert re.fullmatch(r"uploads/\d{4}/\d{2}/[0-9a-f]{32}\.png", task.file.name)
    assert stored_files() == [task.file.name]
    [event] = events("file_upload")
    assert event.metadata["filename"] == shown


def test_300_character_file_name_is_truncated_to_its_column(owner_client, stored_files):
    response = owner_client.post(API_TASKS, {"file": [upload(PNG, "a" * 296 + ".png")]})

    assert response.status_code == 201, response.content
    task = OcrTask.objects.get()
    assert len(task.original_name) <= 255
    assert task.original_name.startswith("aaaa")
    assert re.fullmatch(r"uploads/\d{4}/\d{2}/[0-9a-f]{32}\.png", task.file.name)


def test_control_and_bidi_characters_in_a_name_are_escaped_by_the_service(
    user, client_for, stored_files
):
    # Django's multipart parser already drops them; a name from any other path (the
    # shell, a future API) is escaped by the service itself.
    [task] = task_create_batch(owner=user, uploads=[upload(PNG, CONTROL_SOUP + ".png\x00")])

    assert task.original_name == ESCAPED_SOUP + ".png\\u0000"
    page = client_for(user).get(f"/tasks/{task.pk}/")
    assert ESCAPED_SOUP in page.content.decode()
    assert "\u202e" not in page.content.decode()


def test_script_in_a_file_name_is_escaped_on_every_page(
    owner_client, staff_client, user, staff, client_for
):
    owner_client.post(API_TASKS, {"file": [upload(PNG, XSS_NAME)]})
    task = OcrTask.objects.get()
    upload_event = events("file_upload")[0]

    for response in (
        owner_client.get("/"),
        owner_client.get(f"/tasks/{task.pk}/"),
        owner_client.get(f"/tasks/{task.pk}/delete/"),
        staff_client.get("/admin/tasks/ocrtask/"),
        staff_client.get(f"/admin/tasks/ocrtask/{task.pk}/change/"),
        staff_client.get(f"/admin/audit/auditevent/{upload_event.pk}/change/"),
    ):
        assert response.status_code == 200
        assert_escaped(response.content, XSS_NAME)


# --- Log injection ---------------------------------------------------------------------


def assert_one_line_per_event(lines: list[str], recorded: list[AuditEvent]) -> None:
    recorded = sealed(recorded)  # as the stream has them: linked (audit_stream sealed them)
    assert len(lines) == len(recorded)
    for line, event in zip(lines, recorded, strict=True):
        document = json.loads(line)
        assert document["hash"] == event.hash
        assert not re.search(r"[\x00-\x1f\x7f]", line)


def test_controls_in_the_user_agent_are_escaped_in_one_event_and_one_line(
    user, audit_stream, django_capture_on_commit_callbacks
):
    client = Client(REMOTE_ADDR=REMOTE, HTTP_USER_AGENT=CONTROL_SOUP)
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/accounts/login/", {"username": user.username, "password": "wrong"})

    [event] = AuditEvent.objects.all()
    assert (event.event_type, event.outcome) == ("auth_login", Outcome.FAILURE)
    assert event.user_agent == ESCAPED_SOUP
    assert_one_line_per_event(audit_stream(), [event])


@pytest.mark.parametrize("surface", ["session", "jwt"])
def test_controls_in_a_failed_username_are_escaped_in_one_event_and_one_line(
    db, audit_stream, django_capture_on_commit_callbacks, surface
):
    client = Client(REMOTE_ADDR=REMOTE)
    with django_capture_on_commit_callbacks(execute=True):
        if surface == "jwt":
            response = client.post(
                JWT_LOGIN,
                {"username": CONTROL_SOUP, "password": "wrong"},
                content_type="application/json",
            )
        else:
            response = client.post(
                "/accounts/login/", {"username": CONTROL_SOUP, "password": "wrong"}
            )

    assert response.status_code in (200, 401)
    [event] = AuditEvent.objects.all()
    assert event.username == ESCAPED_SOUP
    assert event.metadata["method"] == surface
    assert_one_line_per_event(audit_stream(), [event])


def test_controls_in_a_file_name_are_escaped_in_the_events_and_the_stream(
    user, audit_stream, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        task_create_batch(owner=user, uploads=[upload(PNG, CONTROL_SOUP + ".png")])

    recorded = list(AuditEvent.objects.order_by("sequence"))
    assert [event.event_type for event in recorded] == ["file_upload", "task_create"]
    assert recorded[0].metadata["filename"] == ESCAPED_SOUP + ".png"
    assert_one_line_per_event(audit_stream(), recorded)


def test_script_in_a_username_is_escaped_in_the_admin_and_the_login_page(staff_client, db):
    attacker = Client(REMOTE_ADDR=REMOTE)
    page = attacker.post("/accounts/login/", {"username": XSS_USERNAME, "password": "x"})
    attacker.post(JWT_LOGIN, {"username": XSS_USERNAME, "password": "x"}, "application/json")

    assert_escaped(page.content, XSS_USERNAME)
    drain_sealer()  # the admin lists sealed events
    event = AuditEvent.objects.filter(username=XSS_USERNAME).first()
    for response in (
        staff_client.get("/admin/audit/auditevent/"),
        staff_client.get(f"/admin/audit/auditevent/{event.pk}/change/"),
    ):
        assert response.status_code == 200
        assert_escaped(response.content, XSS_USERNAME)


# --- Client headers --------------------------------------------------------------------

FORGED_HEADERS = [
    ("x-forwarded-for", {"HTTP_X_FORWARDED_FOR": "10.1.2.3"}),
    ("x-forwarded-for-chain", {"HTTP_X_FORWARDED_FOR": "1.1.1.1, 10.1.2.3, 8.8.8.8"}),
    ("x-forwarded-for-junk", {"HTTP_X_FORWARDED_FOR": "not-an-ip\r\n, <script>"}),
    ("x-real-ip", {"HTTP_X_REAL_IP": "10.1.2.3"}),
    ("both", {"HTTP_X_FORWARDED_FOR": "10.1.2.3", "HTTP_X_REAL_IP": "10.4.5.6"}),
]


@pytest.mark.parametrize(
    "headers", [case[1] for case in FORGED_HEADERS], ids=[case[0] for case in FORGED_HEADERS]
)
def test_forged_client_address_headers_are_ignored_without_trusted_proxies(user, settings, headers):
    settings.TRUSTED_PROXY_COUNT = 0
    client = Client(REMOTE_ADDR=REMOTE, **headers)

    client.post("/accounts/login/", {"username": user.username, "password": "wrong"})

    [event] = AuditEvent.objects.all()
    assert event.ip_address == REMOTE


def test_16_kb_user_agent_is_truncated_in_the_row(user, settings):
    client = Client(REMOTE_ADDR=REMOTE, HTTP_USER_AGENT="A" * 16384)

    response = client.post("/accounts/login/", {"username": user.username, "password": "x"})

    assert response.status_code == 200
    [event] = AuditEvent.objects.all()
    assert len(event.user_agent) == settings.AUDIT_USER_AGENT_MAX_LENGTH
    assert event.user_agent.endswith("A…")


@pytest.mark.parametrize("url", ["/accounts/login/", "/admin/login/"])
def test_10_kb_username_on_a_login_page_is_a_failed_login_not_a_500(db, url):
    # Django's login forms do not bound the username; django-axes' column does.
    response = Client(REMOTE_ADDR=REMOTE).post(url, {"username": "u" * 10240, "password": "x"})

    assert response.status_code == 200
    [event] = AuditEvent.objects.all()
    assert (event.event_type, event.outcome) == ("auth_login", Outcome.FAILURE)
    assert event.username == "u" * 149 + "…"
    [attempt] = AccessAttempt.objects.all()
    assert attempt.username == "u" * 255


def test_10_kb_username_on_the_api_is_a_400_naming_it(db):
    response = Client(REMOTE_ADDR=REMOTE).post(
        JWT_LOGIN, {"username": "u" * 10240, "password": "x"}, "application/json"
    )

    assert response.status_code == 400
    assert "username" in response.json()
    assert not AuditEvent.objects.exists()


# --- Bodies ----------------------------------------------------------------------------


@pytest.mark.parametrize("surface", ["api", "page"])
def test_upload_body_over_the_limit_is_refused_before_it_is_read(
    owner_client, settings, stored_files, surface
):
    settings.OCR_MAX_FILE_BYTES = 1000
    settings.OCR_MAX_FILES_PER_REQUEST = 1
    declared = 1000 + 1024 * 1024 + 1
    url = API_TASKS if surface == "api" else "/tasks/upload/"

    # The body is small; only its declared length is over. Reading it would hang.
    response = owner_client.post(url, {"file": [upload(PNG)]}, CONTENT_LENGTH=str(declared))

    assert response.status_code == 413
    assert_nothing_stored(stored_files)


BAD_BODIES = [
    ("malformed", b'{"username": "alice", "password": '),
    ("not-an-object", b'["alice", "secret"]'),
    ("not-utf8", b'{"username": "\xff\xfe"}'),
    ("deeply-nested-arrays", b"[" * 100_000),
    ("deeply-nested-in-a-field", b'{"username": ' + b"[" * 100_000),
    ("nul-in-username", b'{"username": "ali\\u0000ce", "password": "x"}'),
]


@pytest.mark.parametrize("url", [JWT_LOGIN, JWT_REFRESH], ids=["login", "refresh"])
@pytest.mark.parametrize(
    "body", [case[1] for case in BAD_BODIES], ids=[case[0] for case in BAD_BODIES]
)
def test_bad_json_body_is_a_400(db, url, body):
    response = Client(REMOTE_ADDR=REMOTE).post(url, body, content_type="application/json")

    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/json"
    assert not OutstandingToken.objects.exists()


@pytest.mark.parametrize("url", [JWT_LOGIN, JWT_REFRESH], ids=["login", "refresh"])
def test_json_body_over_data_upload_max_memory_size_is_refused(user, settings, url):
    padding = "p" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)
    body = json.dumps({"username": user.username, "password": padding, "refresh": padding})

    response = Client(REMOTE_ADDR=REMOTE).post(url, body, content_type="application/json")

    # Refused by its declared length (RequestBodyLimitMiddleware) before anything reads it.
    assert response.status_code == 413, response.content
    assert "limit" in response.json()["detail"]
    assert not OutstandingToken.objects.exists()
    assert not AuditEvent.objects.exists()


# --- Audit filters ---------------------------------------------------------------------

AUDIT_FILTERS = [
    "event_type", "category", "outcome", "user_id", "username", "ip_address",
    "resource_type", "resource_id", "request_id", "since", "until", "ordering",
    "cursor", "page_size", "format",
]  # fmt: skip
JUNK_VALUES = [
    ("sql-drop", "'; DROP TABLE audit_auditevent; --"),
    ("sql-tautology", "' OR '1'='1"),
    ("nul", "\x00"),
    ("5000-chars", "x" * 5000),
    ("huge-number", "99999999999999999999999"),
    ("offset-past-year-9999", "9999-12-31T23:59:59-23:59"),
    ("like-wildcard", "%"),
    ("emoji", "\U0001f600"),
]


def cursor_for(**fields: str) -> str:
    return base64.b64encode(urlencode(fields).encode()).decode()


@pytest.mark.parametrize(
    "value", [case[1] for case in JUNK_VALUES], ids=[c[0] for c in JUNK_VALUES]
)
@pytest.mark.parametrize("field", AUDIT_FILTERS)
def test_junk_audit_filter_is_a_400_naming_it_or_a_harmless_200(staff_client, field, value):
    before = AuditEvent.objects.count()

    response = staff_client.get(AUDIT_LOGS, {field: value})

    assert response.status_code in (200, 400), response.content
    if response.status_code == 400:
        assert field in response.json()
    else:
        assert response.json()["results"] is not None
    # Nothing was changed or dropped; at most the view itself was recorded.
    assert AuditEvent.objects.count() in (before, before + 1)


@pytest.mark.parametrize("field", ["username", "resource_id", "request_id", "resource_type"])
def test_sql_in_a_free_text_filter_simply_matches_nothing(staff_client, field):
    response = staff_client.get(AUDIT_LOGS, {field: "' OR 1=1 --"})

    assert response.status_code == 200
    assert response.json()["results"] == []


@pytest.mark.parametrize(
    "cursor",
    [
        cursor_for(p="' OR 1=1"),
        cursor_for(p=str(10**30)),
        cursor_for(p="\u00b2"),
        cursor_for(o="x"),
        "\u00e9t\u00e9",
    ],
    ids=["sql-position", "huge-position", "unicode-digit", "junk-offset", "not-ascii"],
)
def test_forged_cursor_is_a_400_naming_it(staff_client, cursor):
    response = staff_client.get(AUDIT_LOGS, {"cursor": cursor})

    assert response.status_code == 400
    assert response.json() == {"cursor": ["Invalid cursor"]}


@pytest.mark.parametrize("field", ["created_after", "created_before"])
def test_out_of_range_task_date_filter_is_a_400(owner_client, field):
    response = owner_client.get(API_TASKS, {field: "9999-12-31T23:59:59-23:59"})

    assert response.status_code == 400
    assert field in response.json()


# --- JWTs ------------------------------------------------------------------------------


def forged_signature(token: str) -> str:
    head, payload, signature = token.split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    return f"{head}.{payload}.{flipped}"


def expired(token_class, user) -> str:
    token = token_class.for_user(user)
    token.set_exp(lifetime=-timedelta(seconds=1))
    return str(token)


def unsigned(token: str) -> str:
    payload = jwt.decode(token, options={"verify_signature": False})
    # "" is PyJWT's other spelling of no key for alg "none"; with cryptography installed its
    # types no longer admit None.
    return jwt.encode(payload, key="", algorithm="none")


def wrong_key(token: str) -> str:
    payload = jwt.decode(token, options={"verify_signature": False})
    return jwt.encode(payload, key="not the server's key " * 3, algorithm="HS256")


BAD_TOKENS = {
    "forged-signature": lambda kind, user: forged_signature(str(kind.for_user(user))),
    "expired": lambda kind, user: expired(kind, user),
    "alg-none": lambda kind, user: unsigned(str(kind.for_user(user))),
    "wrong-key": lambda kind, user: wrong_key(str(kind.for_user(user))),
    "garbage": lambda kind, user: "eyJhbGciOiJIUzI1NiJ9.e30.\r\n<script>",
}


@pytest.mark.parametrize("make", list(BAD_TOKENS.values()), ids=list(BAD_TOKENS))
def test_bad_access_token_is_a_401_on_a_protected_endpoint(user, make):
    token = make(AccessToken, user)

    response = Client().get(API_TASKS, HTTP_AUTHORIZATION=f"Bearer {token}")

    assert response.status_code == 401


@pytest.mark.parametrize("make", list(BAD_TOKENS.values()), ids=list(BAD_TOKENS))
def test_bad_refresh_token_is_a_401_and_a_failed_refresh_event(user, make):
    token = make(RefreshToken, user)

    response = Client(REMOTE_ADDR=REMOTE).post(
        JWT_REFRESH, {"refresh": token}, content_type="application/json"
    )

    assert response.status_code == 401
    [event] = events("auth_token_refresh")
    assert (event.outcome, event.ip_address) == (Outcome.FAILURE, REMOTE)
    assert "access" not in response.json()


def test_refresh_token_reuse_after_rotation_is_a_401_and_a_failed_refresh_event(user, api_login):
    pair = api_login(user)
    client = Client(REMOTE_ADDR=REMOTE)
    first = client.post(JWT_REFRESH, {"refresh": pair["refresh"]}, "application/json")

    again = client.post(JWT_REFRESH, {"refresh": pair["refresh"]}, "application/json")

    assert first.status_code == 200
    assert again.status_code == 401
    [failed] = events("auth_token_refresh", outcome=Outcome.FAILURE)
    # A genuine, rotated token replayed: attributed to its owner for the SIEM.
    assert (failed.ip_address, failed.metadata["reason"]) == (REMOTE, "reused")
    assert failed.user_id == user.pk


@pytest.mark.django_db(transaction=True)
def test_two_parallel_refreshes_of_one_token_exactly_one_succeeds(user):
    refresh = str(RefreshToken.for_user(user))
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def rotate() -> None:
        try:
            client = Client(REMOTE_ADDR=REMOTE)
            barrier.wait(timeout=10)
            response = client.post(JWT_REFRESH, {"refresh": refresh}, "application/json")
            statuses.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=rotate) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(statuses) == [200, 401]
    assert len(events("auth_token_refresh", outcome=Outcome.SUCCESS)) == 1
    [failure] = events("auth_token_refresh", outcome=Outcome.FAILURE)
    # "reused" when the loser waited on the row lock; "blacklisted" when it came after.
    assert failure.metadata["reason"] in ("reused", "blacklisted")
    assert OutstandingToken.objects.filter(blacklistedtoken__isnull=True).count() == 1


@pytest.mark.postgresql  # SQLite serialises writers with IMMEDIATE transactions instead
def test_refresh_locks_the_token_row_while_it_checks_it(user):
    refresh = str(RefreshToken.for_user(user))
    client = Client(REMOTE_ADDR=REMOTE)

    with CaptureQueriesContext(connection) as queries:
        response = client.post(JWT_REFRESH, {"refresh": refresh}, "application/json")

    assert response.status_code == 200
    locked = [
        query["sql"]
        for query in queries.captured_queries
        if 'FROM "token_blacklist_outstandingtoken"' in query["sql"]
        and "FOR UPDATE" in query["sql"]
    ]
    assert len(locked) == 1


# --- CSRF ------------------------------------------------------------------------------


@pytest.fixture
def csrf_client():
    """Return a client that enforces CSRF as a browser session would be checked."""

    def make(user=None) -> Client:
        client = Client(enforce_csrf_checks=True, REMOTE_ADDR=REMOTE)
        if user is not None:
            client.force_login(user)
        return client

    return make


@pytest.fixture
def failed_task(user, make_user):
    task = task_create_batch(owner=user, uploads=[upload(PNG)])[0]
    OcrTask.objects.filter(pk=task.pk).update(status=Status.FAILED, error="boom")
    return task


def form_posts(task) -> dict[str, tuple[str, str, dict]]:
    """Every state-changing form: (who posts, url, data)."""
    new_password = "n3w pass phrase!"
    alice, staffer = {"username": "alice", "password": PASSWORD}, {"username": "staffer"}
    return {
        "login": ("anonymous", "/accounts/login/", alice),
        "admin-login": ("anonymous", "/admin/login/", {**staffer, "password": PASSWORD}),
        "logout": ("user", "/accounts/logout/", {}),
        "logout-all": ("user", "/accounts/logout-all/", {}),
        "password-change": ("user", "/accounts/password/", {
            "old_password": PASSWORD, "new_password1": new_password, "new_password2": new_password,
        }),
        "upload": ("user", "/tasks/upload/", {"file": [upload(PNG)]}),
        "retry": ("user", f"/tasks/{task.pk}/retry/", {}),
        "delete": ("user", f"/tasks/{task.pk}/delete/", {}),
        "language": ("user", "/i18n/setlang/", {"language": "zh-hans", "next": "/"}),
        "admin-cleanup": ("staff", "/admin/tasks/ocrtask/cleanup/", {"older_than_days": 0}),
        "api-upload-with-session": ("user", API_TASKS, {"file": [upload(PNG)]}),
        "api-cleanup-with-session": ("staff", "/api/v2/admin/cleanup", {"older_than_days": 0}),
    }  # fmt: skip


CSRF_FORMS = [
    "login", "admin-login", "logout", "logout-all", "password-change", "upload", "retry",
    "delete", "language", "admin-cleanup", "api-upload-with-session", "api-cleanup-with-session",
]  # fmt: skip


@pytest.mark.parametrize("form", CSRF_FORMS)
def test_post_without_csrf_token_is_refused_and_changes_nothing(
    csrf_client, user, staff, failed_task, form
):
    who, url, data = form_posts(failed_task)[form]
    client = csrf_client({"anonymous": None, "user": user, "staff": staff}[who])
    tasks_before = list(OcrTask.objects.values_list("pk", "status"))
    events_before = AuditEvent.objects.count()

    response = client.post(url, data)

    assert response.status_code == 403, response.content[:300]
    assert list(OcrTask.objects.values_list("pk", "status")) == tasks_before
    assert AuditEvent.objects.count() == events_before
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    if who != "anonymous":
        assert "_auth_user_id" in client.session
    assert django_settings.LANGUAGE_COOKIE_NAME not in client.cookies
