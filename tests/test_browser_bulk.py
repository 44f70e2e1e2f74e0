"""Real-browser tests of the list's bulk actions and of a page whose session ended.

Tick tasks, then "Re-run OCR…" or "Download…" beside "Delete selected…"; and once the
session has ended elsewhere, a running task's badge says it is the last status known,
not a live one. Runs on its own live site, with test_browser's fixtures.
"""

from __future__ import annotations

import io
import re
import zipfile
from typing import Any

import pytest

from tasks.tests import samples

from . import test_browser
from .test_browser import MISSING, OCR_TIMEOUT_MS, log_in, rows_done_js, shoot, worker_paused
from .test_browser_people import log_out_everywhere

live_site = test_browser.live_site
chromium = test_browser.chromium
devices = test_browser.devices

pytestmark = [pytest.mark.browser]

if MISSING is None:
    from playwright.sync_api import Page, expect


def png(words: list[str]) -> bytes:
    return samples.encode_image(samples.make_text_image(words), format="PNG")


def upload(page: Page, files: dict[str, bytes]) -> None:
    page.get_by_role("link", name="Upload documents").first.click()
    payloads: list[Any] = [
        {"name": name, "mimeType": "image/png", "buffer": data} for name, data in files.items()
    ]
    page.set_input_files("#id_file", payloads)
    page.get_by_role("button", name="Upload and start OCR").click()
    page.wait_for_url("/")


def tick(page: Page, *names: str) -> None:
    for name in names:
        page.get_by_role("checkbox", name=f"Select “{name}”").check()


def test_bulk_download_and_rerun_from_the_list(devices, live_site):
    page = devices.new_page()
    log_in(page, "dana")
    upload(
        page,
        {"invoice.png": png(samples.KNOWN_WORDS), "meadow.png": png(samples.SECOND_PAGE_WORDS)},
    )
    page.wait_for_function(rows_done_js(2), timeout=OCR_TIMEOUT_MS)

    tick(page, "invoice.png", "meadow.png")
    page.get_by_role("button", name="Download…").click()
    expect(page.locator("h1")).to_have_text("Download 2 results as a zip?")
    expect(page.locator("#in-zip li")).to_have_count(2)
    shoot(page, "bulk-download-confirm")
    with page.expect_download() as waiting:
        page.get_by_role("button", name="Download zip").click()
    download = waiting.value
    assert re.fullmatch(r"ocr-texts-\d{8}-\d{6}\.zip", download.suggested_filename)
    with open(download.path(), "rb") as handle:
        archive = zipfile.ZipFile(io.BytesIO(handle.read()))
    assert sorted(archive.namelist()) == ["invoice.txt", "meadow.txt"]
    assert set(samples.KNOWN_WORDS) <= set(archive.read("invoice.txt").decode().lower().split())

    # The searchable PDFs instead: one link away, the choice kept.
    page.get_by_role("link", name="Searchable PDFs").click()
    expect(page.locator("#in-zip li")).to_have_count(2)
    with page.expect_download() as waiting:
        page.get_by_role("button", name="Download zip").click()
    with open(waiting.value.path(), "rb") as handle:
        archive = zipfile.ZipFile(io.BytesIO(handle.read()))
    assert sorted(archive.namelist()) == ["invoice-searchable.pdf", "meadow-searchable.pdf"]
    assert archive.read("invoice-searchable.pdf").startswith(b"%PDF-")

    page.goto("/")
    tick(page, "invoice.png", "meadow.png")
    page.get_by_role("button", name="Re-run OCR…").click()
    expect(page.locator("h1")).to_have_text("Read 2 tasks again?")
    page.select_option("#id_engine", "rapidocr")
    page.get_by_label("OCR every page").check()
    shoot(page, "bulk-rerun-confirm")
    page.get_by_role("button", name="Read again").click()
    page.wait_for_url("/")
    expect(page.locator(".messages")).to_contain_text("2 tasks queued to be read again.")
    page.wait_for_function(rows_done_js(2), timeout=OCR_TIMEOUT_MS)
    expect(page.locator("#task-table td.engine")).to_have_text(["rapidocr · ch"] * 2)

    # Nothing ticked: the list again (a 400, not a redirect) saying why, nothing deleted.
    with page.expect_response(re.compile(r"/tasks/delete/")) as answer:
        page.get_by_role("button", name="Delete selected…").click()
    assert answer.value.status == 400
    expect(page.locator(".messages")).to_contain_text("Choose at least one task to delete.")
    expect(page.locator("#task-table tbody tr")).to_have_count(2)
    shoot(page, "bulk-nothing-chosen")


def test_after_the_session_ended_a_running_task_shows_its_last_known_status(devices, live_site):
    phone = devices.new_page()
    laptop = devices.new_page()
    log_in(phone, "bob")
    log_in(laptop, "bob")
    with worker_paused(live_site):
        upload(laptop, {"receipt.png": png(samples.KNOWN_WORDS)})
        # The detail page reads Chinese: the label is in the visitor's language.
        detail = devices.new_page(locale="zh-CN")
        log_in(detail, "bob")
        detail.get_by_role("link", name="receipt.png").click()
        expect(detail.locator("#detail-status[data-active]")).to_have_count(1)
        badge = laptop.locator("#task-table tr[data-active] .badge")
        expect(badge).to_have_text("Queued")

        log_out_everywhere(phone)

        expect(laptop.locator("#session-ended")).to_be_visible()
        expect(badge).to_have_text("Last known: Queued")
        expect(badge).to_have_class(re.compile(r"\bstale\b"))
        expect(detail.locator("#session-ended")).to_be_visible()
        expect(detail.locator("#detail-status")).to_have_text("最后已知：排队中")  # noqa: RUF001
        expect(detail.locator("#detail-progress")).to_have_class(re.compile(r"\bstale\b"))
        shoot(laptop, "session-ended-stale-list")
        shoot(detail, "session-ended-stale-detail")
