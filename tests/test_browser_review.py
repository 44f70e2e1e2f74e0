"""Real-browser tests of what a first-time user's review found (issue 26: nothing silent).

A logout says so; a search says how many tasks it found; a page with a message keeps its
list valid for screen readers (axe); the re-run forms put their checkbox beside its label;
the top bar's account links are apart; a bulk download with nothing to download asks no
question; a form sent after the session ended elsewhere says it was not done and leads
back to its page; the admin's words from Django and django-axes are Chinese in Chinese, and
one event's page names its type once; the API docs say their language. Runs on its own
live site, with test_browser's fixtures.
"""

from __future__ import annotations

import re

import pytest

from audit.tests.fixtures import PASSWORD
from tasks.tests import samples

from . import test_browser
from .test_browser import MISSING, OCR_TIMEOUT_MS, log_in, rows_done_js, shoot, worker_paused
from .test_browser_a11y import axe_violations

live_site = test_browser.live_site
chromium = test_browser.chromium
devices = test_browser.devices

pytestmark = [pytest.mark.browser]

if MISSING is None:
    from playwright.sync_api import FloatRect, Page, expect


def upload(page: Page, name: str) -> None:
    page.goto("/tasks/upload/")
    image = samples.encode_image(samples.make_text_image(samples.KNOWN_WORDS), format="PNG")
    page.set_input_files("#id_file", {"name": name, "mimeType": "image/png", "buffer": image})
    page.locator("#upload-button").click()
    page.wait_for_url("/")


def box(page: Page, selector: str) -> FloatRect:
    found = page.locator(selector).first.bounding_box()
    assert found is not None, f"{selector} is not shown"
    return found


@pytest.mark.parametrize("width", [1280, 390])
def test_messages_search_count_rerun_form_and_logout_say_what_happened(devices, width):
    page = devices.new_page(width=width)
    log_in(page, "alice" if width == 1280 else "bob")

    # The top bar's account links stand apart: "Log out" and "Log out everywhere" are two.
    log_out = box(page, "form[action$='/logout/'] button")
    everywhere = box(page, "form[action$='/logout-all/'] button")
    if abs(log_out["y"] - everywhere["y"]) < 2:  # on one line
        assert everywhere["x"] - (log_out["x"] + log_out["width"]) >= 8

    upload(page, "receipt.png")
    # The message list is a list a screen reader can read (axe: no role on its items).
    expect(page.locator(".messages li")).to_contain_text("1 document queued for OCR.")
    assert page.locator("[role=status] > ul.messages").count() == 1
    assert axe_violations(page) == []
    page.wait_for_function(rows_done_js(1), timeout=OCR_TIMEOUT_MS)

    # A search says how many tasks it found, before the rows, as a status.
    page.fill("#id_q", "harbour")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.locator("#match-count[role=status]")).to_have_text("1 task matches.")
    page.goto("/")
    expect(page.locator("#match-count")).to_have_count(0)

    # The task page's re-run form: the checkbox on the line of its label, left of it.
    page.locator("#task-table td.name a").first.click()
    page.locator("details.rerun summary").click()
    check = box(page, ".rerun-form .field.check input[type=checkbox]")
    label = box(page, ".rerun-form .field.check label")
    assert abs((check["y"] + check["height"] / 2) - (label["y"] + label["height"] / 2)) < 6
    assert check["x"] + check["width"] <= label["x"]
    # The page image keeps its place (the page's own size) before the preview is drawn.
    image = page.locator(".page-image img").first
    assert image.get_attribute("width") == "1200"
    assert image.get_attribute("height") == "300"
    shoot(page, f"review-rerun-form-{width}")

    # A logout says so on the login page it ends on.
    page.locator("form[action$='/logout/'] button").click()
    page.wait_for_url("/accounts/login/")
    expect(page.locator(".messages")).to_have_text("You are logged out on this device.")


def test_password_errors_are_red_and_the_bulk_pages_ask_no_question_about_nothing(
    devices, live_site
):
    page = devices.new_page()
    log_in(page, "chen")
    page.goto("/accounts/password/")
    page.fill("#id_old_password", "not the password")
    page.fill("#id_new_password1", "one new password")
    page.fill("#id_new_password2", "another new password")
    page.locator("main form button[type=submit]").click()
    error = page.locator(".errorlist").first
    expect(error).to_contain_text("Your old password was entered incorrectly.")
    bad = page.evaluate("getComputedStyle(document.body).getPropertyValue('--bad').trim()")
    colour = error.evaluate("node => getComputedStyle(node).color")
    assert bad == "#b3261e" and colour == "rgb(179, 38, 30)"
    assert error.evaluate("node => getComputedStyle(node).listStyleType") == "none"

    with worker_paused(live_site):
        upload(page, "waiting.png")
        task_id = page.locator("#task-table tr[data-task-id]").first.get_attribute("data-task-id")
        page.goto(f"/tasks/download/?ids={task_id}")
        expect(page.locator("h1")).to_have_text("Nothing to download")
        expect(page.locator("#left-out")).to_contain_text("waiting.png")
        page.goto(f"/tasks/rerun/?ids={task_id}")
        expect(page.locator("h1")).to_have_text("Nothing to read again")
        expect(page.locator("#not-rerun")).to_contain_text("waiting.png")


def test_the_admins_library_words_are_chinese(devices):
    page = devices.new_page(locale="zh-CN", width=390)
    log_in(page, "staffer")
    page.goto("/admin/audit/auditevent/")
    # Django 6's empty choice of the action list, and its date drill-down's label.
    expect(page.locator("select[name=action] option").first).to_have_text("- 请选择 -")
    expect(page.locator("#date-hierarchy-label")).to_have_text("按时间筛选")
    # django-axes' pages, under the project's "Sign-in lockouts".
    page.goto("/admin/axes/accessattempt/")
    expect(page.locator("#content h1")).to_contain_text("登录尝试")
    expect(page.locator("#changelist-filter")).to_contain_text("尝试时间")
    expect(page.locator("#changelist-filter")).to_contain_text("已锁定")
    shoot(page, "review-axes-zh-hans-phone")


@pytest.mark.parametrize("width", [1280, 390])
def test_the_audit_lists_event_and_message_columns_keep_a_width(devices, width):
    page = devices.new_page(locale="zh-CN", width=width)
    log_in(page, "staffer")
    page.goto("/admin/audit/auditevent/")
    widths = page.evaluate(
        "() => Object.fromEntries([...document.querySelectorAll('#result_list thead th')]"
        ".map(th => [th.className.split(' ').pop(), th.getBoundingClientRect().width]))"
    )
    # The event in words and its code, and the message, are columns one can read (they
    # had no width at phone size: the code wrapped one letter a line under the outcome).
    assert widths["column-event"] >= 100, widths
    assert widths["column-short_message"] >= 80, widths
    code = page.locator("#result_list td.field-event code.event-code").first
    assert code.evaluate("node => node.getClientRects().length") == 1  # on one line
    shoot(page, f"review-audit-list-zh-hans-{width}")


def test_the_empty_list_ends_its_sentence_in_chinese(devices):
    page = devices.new_page(locale="zh-CN", width=390)
    log_in(page, "dana")
    # The link is inside the translated phrase, so its full stop is "。", not ".".
    expect(page.locator("#no-tasks p")).to_have_text("还没有任务。 上传扫描件或 PDF。")
    expect(page.locator("#no-tasks a")).to_have_attribute("href", "/tasks/upload/")


def test_the_api_docs_say_their_language_and_draw_under_the_policy(devices):
    page = devices.new_page(locale="zh-CN")
    log_in(page, "dana")
    page.goto("/api/docs/")
    # drf-spectacular's page had a bare <html>; screen readers had to guess the language.
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    # Drawn by its own script files, so the CSP let it run; no violation was reported.
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("OCR service API")
    assert devices.csp_violations() == []


@pytest.mark.parametrize(("width", "locale"), [(1280, "en-US"), (390, "zh-CN")])
def test_a_form_sent_after_the_session_ended_says_so_and_leads_back_to_its_page(
    devices, width, locale
):
    laptop = devices.new_page(width=width, locale=locale)
    log_in(laptop, "erin")
    upload(laptop, f"ledger-{width}.png")
    laptop.get_by_role("link", name=f"ledger-{width}.png").click()
    detail = laptop.url
    # The page reloads itself once the task is read; then it offers to read it again.
    expect(laptop.locator("details.rerun summary")).to_be_visible(timeout=OCR_TIMEOUT_MS)
    phone = devices.new_page(width=width, locale=locale)
    log_in(phone, "erin")
    phone.once("dialog", lambda dialog: dialog.accept())
    phone.locator("form[action$='/logout-all/'] button").click()
    phone.wait_for_url("/accounts/login/")

    # The laptop's tab still shows the task; its re-run form goes out without a session.
    laptop.locator("details.rerun summary").click()
    laptop.locator(".rerun-form button[type=submit]").first.click()
    laptop.wait_for_url(re.compile(r"/accounts/login/"))
    words = {
        "en-US": "Your session had ended, so that was not done. Sign in and try again.",
        "zh-CN": "您的会话已结束，刚才的操作未执行。请登录后重试。",  # noqa: RUF001
    }
    expect(laptop.locator("#session-ended")).to_have_text(words[locale])
    shoot(laptop, f"review-form-not-sent-{width}")
    laptop.fill("#id_username", "erin")
    laptop.fill("#id_password", PASSWORD)
    laptop.locator("main form button[type=submit]").click()
    # Back on the task's page (it used to end on the 405 "Not a page to open").
    laptop.wait_for_url(detail)
    expect(laptop.locator("h1")).to_contain_text(f"ledger-{width}.png")


def test_one_audit_events_page_names_its_type_once(devices):
    page = devices.new_page(locale="zh-CN", width=390)
    log_in(page, "staffer")
    page.goto("/admin/audit/auditevent/")
    page.locator("#result_list tbody tr a").first.click()
    page.wait_for_url(re.compile(r"/admin/audit/auditevent/\d+/change/"))
    # In words beside its code, once: a second 事件类型 row held the bare code again.
    expect(page.locator(".form-row label", has_text="事件类型")).to_have_count(1)
    expect(page.locator(".field-event code.event-code")).to_have_count(1)


def test_choosing_files_clears_the_last_answers_choose_a_file_error(devices):
    page = devices.new_page(locale="zh-CN", width=390)
    log_in(page, "dana")
    page.goto("/tasks/upload/")
    page.locator("#upload-button").click()  # nothing chosen: the server says so
    page.wait_for_load_state()
    expect(page.locator("#file-errors")).to_have_text("请至少选择一个要上传的文件。")
    image = samples.encode_image(samples.make_text_image(samples.KNOWN_WORDS), format="PNG")
    page.set_input_files("#id_file", {"name": "scan.png", "mimeType": "image/png", "buffer": image})
    # It spoke of the last choice; beside "scan.png" it read as if the file were not there.
    expect(page.locator("#chosen")).to_have_text("scan.png")
    expect(page.locator("#file-errors")).to_be_hidden()
    shoot(page, "review-upload-chosen-after-error-390")
