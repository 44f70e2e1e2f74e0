"""Real-browser tests of what a person is told when their session or their upload fails.

Nothing silent, nothing lost: a session ended on another device stops the live progress
with a notice, a refused upload says what became of every file, and an upload sent after
the session ended says it was not sent. Runs on its own live site, with test_browser's
fixtures; each test signs in as its own user, since "log out everywhere" ends them all.
"""

from __future__ import annotations

import re

import pytest

from audit.tests.fixtures import PASSWORD
from tasks.tests import samples

from . import test_browser
from .test_browser import MISSING, log_in, shoot, worker_paused

live_site = test_browser.live_site
chromium = test_browser.chromium
devices = test_browser.devices

pytestmark = [pytest.mark.browser]

if MISSING is None:
    from playwright.sync_api import Page, expect

# Time for several polls (tasks.js polls every 1.5 s, and every 6 s after a failure).
QUIET_MS = 7_000


def three_page_pdf() -> bytes:
    return samples.image_pdf_bytes(
        [
            samples.make_text_image(samples.KNOWN_WORDS),
            samples.make_text_image(samples.SECOND_PAGE_WORDS),
            samples.make_text_image(samples.KNOWN_WORDS),
        ]
    )


def log_out_everywhere(page: Page) -> None:
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Log out everywhere").click()
    page.wait_for_url("/accounts/login/")


def polls_made(page: Page) -> list[str]:
    """Record, from now on, every progress poll the page sends."""
    sent: list[str] = []
    page.on(
        "request",
        lambda request: (
            sent.append(request.url) if re.search(r"/tasks/(rows|progress)/", request.url) else None
        ),
    )
    return sent


def test_progress_says_the_session_ended_on_another_device(devices, live_site):
    phone = devices.new_page()
    # The laptop reads Chinese: the notice is in the visitor's language.
    laptop = devices.new_page(locale="zh-CN")
    log_in(phone, "alice")
    log_in(laptop, "alice")

    with worker_paused(live_site):
        phone.get_by_role("link", name="Upload documents").first.click()
        phone.set_input_files(
            "#id_file",
            [{"name": "report.pdf", "mimeType": "application/pdf", "buffer": three_page_pdf()}],
        )
        phone.get_by_role("button", name="Upload and start OCR").click()
        phone.wait_for_url("/")

        laptop.reload()
        expect(laptop.locator("#task-table tr[data-active]")).to_have_count(1)
        detail = laptop.context.new_page()
        detail.goto("/")
        detail.get_by_role("link", name="report.pdf").click()
        expect(detail.locator("#detail-status[data-active]")).to_have_count(1)
        task_path = detail.url.removeprefix(live_site.url)

        # Both pages notice on their next poll, with no navigation of their own.
        list_polls, detail_polls = polls_made(laptop), polls_made(detail)
        log_out_everywhere(phone)

        for page, path in ((laptop, "/"), (detail, task_path)):
            notice = page.locator("#session-ended")
            expect(notice).to_be_visible()
            expect(notice).to_contain_text("您的会话已结束。")
            link = notice.get_by_role("link", name="请重新登录以查看进度。")
            expect(link).to_have_attribute(
                "href", f"/accounts/login/?next={path}&reason=session_ended"
            )
            # The header no longer claims a user; it offers to log in.
            expect(page.locator(".whoami")).to_be_hidden()
            expect(page.locator(".account").get_by_role("link", name="登录")).to_be_visible()
            assert page.url.endswith(path)
        shoot(laptop, "session-ended-task-list")
        shoot(detail, "session-ended-task-detail")

        # Polling stopped: nothing more is asked of a server that no longer knows them.
        counts = (len(list_polls), len(detail_polls))
        laptop.wait_for_timeout(QUIET_MS)
        assert (len(list_polls), len(detail_polls)) == counts
        assert counts[0] >= 1 and counts[1] >= 1

    # The link signs in again and comes back to the page that was being watched.
    detail.locator("#session-ended a").click()
    expect(detail.locator("main")).to_contain_text("您的会话已结束")
    detail.fill("#id_username", "alice")
    detail.fill("#id_password", PASSWORD)
    detail.locator("main form button[type=submit]").click()
    detail.wait_for_url(f"**{task_path}")
    expect(detail.locator(".whoami")).to_contain_text("alice")
    expect(detail.locator("#session-ended")).to_be_hidden()


def test_upload_after_the_session_ended_says_it_was_not_sent(devices):
    laptop, phone = devices.new_page(), devices.new_page()
    log_in(laptop, "chen")
    log_in(phone, "chen")
    laptop.get_by_role("link", name="Upload documents").first.click()
    image = samples.encode_image(samples.make_text_image(samples.KNOWN_WORDS), format="PNG")
    laptop.set_input_files(
        "#id_file", [{"name": "invoice.png", "mimeType": "image/png", "buffer": image}]
    )
    log_out_everywhere(phone)

    laptop.get_by_role("button", name="Upload and start OCR").click()
    laptop.wait_for_url(re.compile(r"/accounts/login/"))
    expect(laptop.locator("#session-ended")).to_have_text(
        "Your session ended; your upload was not sent — sign in and choose the files again."
    )
    shoot(laptop, "session-ended-upload-login")

    laptop.fill("#id_username", "chen")
    laptop.fill("#id_password", PASSWORD)
    laptop.locator("main form button[type=submit]").click()
    # Back on the upload page, to choose the files again; nothing was queued meanwhile.
    laptop.wait_for_url("/tasks/upload/")
    laptop.goto("/")
    expect(laptop.locator("#task-table tbody tr")).to_have_count(0)


def test_a_watched_task_that_finishes_is_announced_on_the_page_and_in_the_tab_title(
    devices, live_site
):
    tasks_tab = devices.new_page()
    log_in(tasks_tab, "erin")
    with worker_paused(live_site):
        tasks_tab.get_by_role("link", name="Upload documents").first.click()
        image = samples.encode_image(samples.make_text_image(samples.KNOWN_WORDS), format="PNG")
        tasks_tab.set_input_files(
            "#id_file", [{"name": "receipt.png", "mimeType": "image/png", "buffer": image}]
        )
        tasks_tab.get_by_role("button", name="Upload and start OCR").click()
        tasks_tab.wait_for_url("/")
        detail = tasks_tab.context.new_page()
        detail.goto("/")
        detail.get_by_role("link", name="receipt.png").click()
        expect(detail.locator("#detail-status[data-active]")).to_have_count(1)
        # The list's tab is in the background while the user reads another one.
        tasks_tab.evaluate(
            "Object.defineProperty(document, 'hidden', {configurable: true, get: () => true})"
        )
        expect(tasks_tab.locator("#task-notice")).to_be_hidden()

    notice = tasks_tab.locator("#task-notice")
    expect(notice).to_have_text("receipt.png: Completed", timeout=test_browser.OCR_TIMEOUT_MS)
    expect(tasks_tab).to_have_title(re.compile(r"^\(1\) Finished · "))
    # The detail page reloads to show the text and says why.
    expect(detail.locator("#task-notice")).to_have_text(
        "receipt.png: Completed", timeout=test_browser.OCR_TIMEOUT_MS
    )
    expect(detail.locator("pre").first).to_contain_text("harbour")
    # Back on the tab: the title is the page's own again.
    tasks_tab.evaluate(
        "Object.defineProperty(document, 'hidden', {configurable: true, get: () => false});"
        "document.dispatchEvent(new Event('visibilitychange'))"
    )
    expect(tasks_tab).not_to_have_title(re.compile(r"Finished"))
    shoot(detail, "task-finished-notice")
