"""The help page: a first-time user's questions answered with this server's own figures."""

import re

import pytest
from django.db import connection
from django.test import Client

from tasks.ocr.engines import available_engines

pytestmark = pytest.mark.django_db

NBSP = "\N{NO-BREAK SPACE}"


@pytest.fixture
def odd_limits(settings):
    """Limits no default has, so a figure on the page can only have come from settings."""
    settings.OCR_MAX_FILE_BYTES = 3 * 1024 * 1024
    settings.OCR_MAX_FILES_PER_REQUEST = 4
    settings.OCR_MAX_PAGES = 7
    settings.OCR_MAX_PIXELS = 1_234_567
    settings.OCR_BULK_MAX_TASKS = 9
    settings.OCR_BULK_DOWNLOAD_MAX_BYTES = 5 * 1024 * 1024


def text_of(html: str) -> str:
    """Return the page's words without tags, spaces folded, as a reader meets them."""
    # ASCII white space only: the no-break space inside "3.0 MB" is part of the figure.
    return re.sub(r"[ \t\r\n]+", " ", re.sub(r"<[^>]+>", "", html))


def test_help_answers_a_first_time_user_with_the_servers_limits(odd_limits):
    response = Client().get("/help/")

    assert response.status_code == 200
    page = text_of(response.content.decode())
    assert "Types: PNG, JPEG, TIFF, WebP, BMP, PDF." in page
    assert f"Up to 4 files per upload, each at most 3.0{NBSP}MB and 7 pages." in page
    assert "at most 1,234,567 pixels" in page
    assert f"At most 9 tasks at a time, and a zip of at most 5.0{NBSP}MB." in page
    for section in ("Downloads and bulk actions", "Reading a task again", "Logging out"):
        assert section in page
    for words in ("Searchable PDF", "hOCR and ALTO XML", "JSON", "Original file"):
        assert words in page
    assert "“Read again…”" in page and "“OCR every page”" in page
    assert "“Log out everywhere” ends all your sessions, on every device" in page


def test_help_names_each_installed_engine_with_the_languages_it_reads():
    html = Client().get("/help/").content.decode()

    table = re.search(r'<table id="help-engines">.*?</table>', html, re.S)
    assert table is not None
    rows = {
        text_of(name).strip(): text_of(languages)
        for name, languages in re.findall(
            r'<th scope="row">(.*?)</th>\s*<td>(.*?)</td>', table.group(0), re.S
        )
    }
    labels = {"tesseract": "Tesseract (default)", "rapidocr": "RapidOCR"}
    assert set(rows) == {labels[name] for name in available_engines()}
    for name, languages in available_engines().items():
        for code in languages:
            assert code in re.split(r"[\s,]+", rows[labels[name]]), (name, code)
    assert "English eng" in rows["Tesseract (default)"]
    assert "Chinese and English ch" in rows["RapidOCR"]


def test_help_explains_search_as_this_database_does_it():
    page = text_of(Client().get("/help/").content.decode())

    if connection.vendor == "postgresql":
        assert "Put words in double quotes to find them as a phrase" in page
        assert "(-word)" in page
    else:
        # SQLite's FTS5 index: whole words, with no syntax of its own.
        assert "as whole words" in page
        assert "Quotes and a minus sign have no special meaning on this server." in page
        assert "double quotes to find them as a phrase" not in page


def test_help_is_chinese_in_chinese_with_the_same_figures(odd_limits):
    page = text_of(Client().get("/help/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode())

    assert "可上传的文件" in page
    assert "引擎和语言" in page
    assert "退出所有设备" in page
    assert f"每次最多上传 4 个文件\N{FULLWIDTH COMMA}每个文件最大 3.0{NBSP}MB、最多 7 页。" in page
    # Chinese groups no digits (Django's zh_Hans number format).
    assert "最多 1234567 像素" in page
    # No section left in English.
    for english in ("Files you can upload", "Downloads and bulk actions", "Logging out"):
        assert english not in page
