"""The interface in English and Simplified Chinese; API and audit vocabulary stay English."""

import gettext
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.utils import translation

from accounts.api_tokens.admin import ApiTokenCreateForm
from accounts.models import ApiToken, ApiTokenAddress
from audit.models import AuditEvent
from audit.tests.fixtures import PASSWORD, drain_sealer
from tasks.models import OcrPage, OcrTask, Phase, Status

from .conftest import upload_file

pytestmark = pytest.mark.django_db

CATALOGUE = Path(settings.BASE_DIR) / "locale" / "zh_Hans" / "LC_MESSAGES"
CHINESE_TASK_LIST = ["我的任务", "上传文档", "退出登录"]
ENGLISH_TASK_LIST = ["My tasks", "Upload documents", "Log out"]


def html_lang(response) -> str:
    match = re.search(r'<html lang="([^"]+)"', response.content.decode())
    assert match, "every page declares its language"
    return match.group(1)


def test_setlang_then_task_list_is_chinese(user):
    # enforce_csrf_checks: the switcher must work with CSRF protection on, as in a browser.
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    page = client.get("/")
    assert page.status_code == 200
    assert all(text in page.content.decode() for text in ENGLISH_TASK_LIST)
    token = client.cookies[settings.CSRF_COOKIE_NAME].value

    switched = client.post(
        "/i18n/setlang/", {"language": "zh-hans", "next": "/", "csrfmiddlewaretoken": token}
    )

    assert switched.status_code == 302
    assert switched["Location"] == "/"
    assert client.cookies[settings.LANGUAGE_COOKIE_NAME].value == "zh-hans"
    page = client.get("/")
    body = page.content.decode()
    assert html_lang(page) == "zh-hans"
    assert all(text in body for text in CHINESE_TASK_LIST)
    assert not any(text in body for text in ENGLISH_TASK_LIST)


def test_setlang_without_csrf_token_is_refused(user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)

    response = client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/"})

    assert response.status_code == 403
    assert settings.LANGUAGE_COOKIE_NAME not in client.cookies


@pytest.mark.parametrize("accept", ["zh-hans", "zh-CN,zh;q=0.9,en;q=0.5"])
def test_accept_language_renders_chinese(user, client_for, make_task_row, accept):
    make_task_row(user, status=Status.COMPLETED, pages_done=1)
    client = client_for(user)

    page = client.get("/", HTTP_ACCEPT_LANGUAGE=accept)

    body = page.content.decode()
    assert html_lang(page) == "zh-hans"
    assert all(text in body for text in CHINESE_TASK_LIST)
    # Status labels come from the model's choices, translated too.
    assert '<span class="badge completed">已完成</span>' in body


def test_task_phase_and_no_text_notes_are_chinese(user, client_for, make_task_row):
    reading = make_task_row(
        user, status=Status.PROCESSING, phase=Phase.READING, page_count=3, pages_done=1
    )
    blank = make_task_row(user, status=Status.COMPLETED, pages_done=1, result_text="")
    client = client_for(user)

    reading_page = client.get(f"/tasks/{reading.pk}/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    blank_page = client.get(f"/tasks/{blank.pk}/", HTTP_ACCEPT_LANGUAGE="zh-hans")

    assert "正在识别第 2 页，共 3 页" in reading_page.content.decode()  # noqa: RUF001
    assert "此文档中未找到文字。" in blank_page.content.decode()


def test_admin_names_the_models_properly_in_both_languages(staff, client_for):
    client = client_for(staff)

    tasks_english = client.get("/admin/tasks/ocrtask/").content.decode()
    events_chinese = client.get(
        "/admin/audit/auditevent/", HTTP_ACCEPT_LANGUAGE="zh-hans"
    ).content.decode()

    assert "OCR tasks" in tasks_english
    assert "Ocr tasks" not in tasks_english
    assert "审计事件" in events_chinese
    assert "audit event" not in events_chinese.lower()


# Words a Chinese label may keep in Latin letters: names of formats and identifiers.
LATIN_IN_CHINESE = re.compile(r"OCR|PDF|SHA-256|API|ID|IP|dpi")


@pytest.mark.parametrize("model", [OcrTask, OcrPage, ApiToken, ApiTokenAddress])
def test_every_field_of_the_admin_models_is_named_in_chinese(model):
    with translation.override("zh-hans"):
        names = {
            "verbose_name": str(model._meta.verbose_name),
            "verbose_name_plural": str(model._meta.verbose_name_plural),
            **{
                field.name: str(field.verbose_name)
                for field in model._meta.get_fields()
                if not field.auto_created or field.concrete
            },
        }

    english = {
        key: name
        for key, name in names.items()
        if re.search("[A-Za-z]", LATIN_IN_CHINESE.sub("", name))
    }
    assert english == {}


def test_admin_task_page_labels_are_chinese(staff, client_for, make_task_row):
    task = make_task_row(staff, status=Status.COMPLETED, pages_done=1, result_text="harbour")
    OcrPage.objects.create(task=task, index=0, text="harbour", source="ocr")

    page = client_for(staff).get(
        f"/admin/tasks/ocrtask/{task.pk}/change/", HTTP_ACCEPT_LANGUAGE="zh-hans"
    )

    body = page.content.decode()
    assert page.status_code == 200
    for english in ("Content type", "Force ocr", "Result text", "Heartbeat at", "Ocr pages"):
        assert english not in body
    assert "OCR 页面" in body and "内容类型" in body


def test_token_scope_descriptions_follow_the_language():
    with translation.override("zh-hans"):
        labels = [str(label) for _, label in ApiTokenCreateForm().fields["scopes"].choices]

    assert "audit:read — 读取和导出审计日志及其证明" in labels
    assert "users:read — 列出用户账户" in labels


def test_login_page_is_chinese_for_anonymous_visitors():
    page = Client().get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="zh-hans")

    body = page.content.decode()
    assert "<h1>登录</h1>" in body
    assert "用户名" in body and "密码" in body


def test_english_stays_the_default(user, client_for):
    page = client_for(user).get("/", HTTP_ACCEPT_LANGUAGE="fr")

    assert html_lang(page) == "en"
    assert "My tasks" in page.content.decode()


def test_api_field_names_and_values_stay_english(user, client_for, make_task_row):
    make_task_row(user, status=Status.COMPLETED, pages_done=1)
    client = client_for(user)

    english = client.get("/api/v2/tasks", HTTP_ACCEPT_LANGUAGE="en").json()
    chinese = client.get("/api/v2/tasks", HTTP_ACCEPT_LANGUAGE="zh-hans").json()

    assert chinese.keys() == english.keys()
    [task_en], [task_zh] = english["results"], chinese["results"]
    assert task_zh.keys() == task_en.keys()
    assert "original_name" in task_zh
    assert task_zh["status"] == "completed"


def test_audit_event_names_stay_english_in_a_chinese_session(user, staff, client_for):
    client = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")

    response = client.post("/accounts/login/", {"username": user.username, "password": PASSWORD})

    assert response.status_code == 302
    drain_sealer()
    event = AuditEvent.objects.filter(username=user.username).latest("sequence")
    assert (event.event_type, event.category, event.outcome) == (
        "auth_login",
        "authentication",
        "success",
    )
    listing = client_for(staff).get(
        "/api/v2/admin/audit-logs", {"event_type": "auth_login"}, HTTP_ACCEPT_LANGUAGE="zh-hans"
    )
    assert listing.status_code == 200
    assert {row["event_type"] for row in listing.json()["results"]} == {"auth_login"}


def test_upload_refusals_are_in_the_visitors_language_and_audited_in_english(user):
    client = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    client.force_login(user)
    sent = [("empty.png", b""), ("notes.png", b"plain text, not an image")]

    pages = [
        client.post("/tasks/upload/", {"file": upload_file(data, name)}).content.decode()
        for name, data in sent
    ]

    assert "未保存任何文件。" in pages[0]
    assert "empty.png —— 未保存\N{FULLWIDTH COLON}文件为空。" in pages[0]
    assert (
        "notes.png —— 未保存\N{FULLWIDTH COLON}不是 PNG、JPEG、TIFF、WebP、BMP 或 PDF 文件"
        in pages[1]
    )
    # The trail, its hashes and the SIEM stream keep one language.
    drain_sealer()
    messages = list(
        AuditEvent.objects.filter(event_type="file_upload")
        .order_by("sequence")
        .values_list("message", flat=True)
    )
    assert messages == [
        "empty.png: file is empty.",
        "notes.png: not a PNG, JPEG, TIFF, WebP, BMP or PDF file (judged by its content, "
        "not its name).",
    ]


def test_sizes_in_refusals_are_worded_in_the_visitors_language_and_english_in_the_trail(
    user, settings
):
    settings.OCR_MAX_FILE_BYTES = 1000
    client = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    client.force_login(user)

    page = client.post("/tasks/upload/", {"file": upload_file(b"x" * 2048, "big.png")})

    assert page.status_code == 413
    assert (
        "文件为 2.0\N{NO-BREAK SPACE}KB\N{FULLWIDTH SEMICOLON}上限为 1000\N{NO-BREAK SPACE}字节。"
        in page.content.decode()
    )
    [message] = AuditEvent.objects.filter(event_type="file_upload").values_list(
        "message", flat=True
    )
    assert (
        message
        == "big.png: file is 2.0\N{NO-BREAK SPACE}KB; the limit is 1000\N{NO-BREAK SPACE}bytes."
    )


def test_api_refusals_follow_accept_language_and_stay_english_by_default(user, client_for):
    client = client_for(user)
    empty = {"file": upload_file(b"", "empty.png")}

    chinese = client.post("/api/v2/tasks", empty, HTTP_ACCEPT_LANGUAGE="zh-hans")
    english = client.post("/api/v2/tasks", {"file": upload_file(b"", "empty.png")})

    assert chinese.status_code == english.status_code == 400
    assert chinese.json() == {"file": ["empty.png\N{FULLWIDTH COLON}文件为空。"]}
    assert english.json() == {"file": ["empty.png: file is empty."]}


def test_worker_errors_are_stored_in_english_whatever_language_is_active(
    user, make_task, processed, file_store
):
    task = make_task(user)
    file_store.write(task.file.name, b"this is no longer an image")

    with translation.override("zh-hans"):
        task = processed(task)

    assert task.status == Status.FAILED
    assert task.error.startswith("File is truncated or corrupt")


@dataclass
class PoEntry:
    msgid: str
    msgstr: str
    plural: str | None = None
    fuzzy: bool = False
    context: str | None = None


def po_entries(path: Path) -> list[PoEntry]:
    """Return the live entries of a .po file (enough of the format for this catalogue)."""
    entries: list[PoEntry] = []
    fields: dict[str, str] = {}
    current = None
    fuzzy = False
    for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        keyword = line.split(" ", 1)[0]
        if keyword in ("msgctxt", "msgid", "msgid_plural", "msgstr", "msgstr[0]"):
            current = keyword.removesuffix("[0]")
            fields[current] = line.split(" ", 1)[1]
        elif line.startswith('"') and current:
            fields[current] += line
        elif line.startswith("#,") and "fuzzy" in line:
            fuzzy = True
        elif not line.strip():
            if fields.get("msgid") not in (None, '""'):
                entries.append(
                    PoEntry(
                        msgid=unquote(fields["msgid"]),
                        msgstr=unquote(fields["msgstr"]),
                        plural=unquote(fields["msgid_plural"])
                        if "msgid_plural" in fields
                        else None,
                        fuzzy=fuzzy,
                        context=unquote(fields["msgctxt"]) if "msgctxt" in fields else None,
                    )
                )
            fields, current, fuzzy = {}, None, False
    return entries


def unquote(joined: str) -> str:
    parts = re.findall(r'"((?:[^"\\]|\\.)*)"', joined)
    return "".join(
        part.encode().decode("unicode_escape").encode("latin-1").decode() for part in parts
    )


def test_catalogue_is_complete_and_compiled():
    entries = po_entries(CATALOGUE / "django.po")
    with (CATALOGUE / "django.mo").open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)

    assert len(entries) > 100
    # Fuzzy entries are msgmerge's guesses from similar strings; gettext never uses them.
    assert [entry.msgid for entry in entries if entry.fuzzy] == []
    assert [entry.msgid for entry in entries if not entry.msgstr] == []
    # The committed .mo must be the compiled .po: `make run` does not need gettext.
    stale = [
        entry.msgid
        for entry in entries
        if (
            compiled.ngettext(entry.msgid, entry.plural, 1)
            if entry.plural
            else compiled.pgettext(entry.context, entry.msgid)
            if entry.context
            else compiled.gettext(entry.msgid)
        )
        != entry.msgstr
    ]
    assert stale == []
