"""Real-browser tests of issue 26's "in people's words" items, in English and Chinese.

The audit log names every event type in words, beside the code it is stored, filtered
and exported as; it is filtered by an address, a prefix or a CIDR range, and a value that
is none of these is answered beside the field. Runs on its own live site, with
test_browser's fixtures.
"""

from __future__ import annotations

import re

import pytest

from tasks.tests import samples

from . import test_browser
from .test_browser import MISSING, OCR_TIMEOUT_MS, log_in, open_once_sealed, rows_done_js, shoot

live_site = test_browser.live_site
chromium = test_browser.chromium
devices = test_browser.devices

pytestmark = [pytest.mark.browser]

if MISSING is None:
    from playwright.sync_api import expect


@pytest.mark.parametrize(
    ("locale", "width", "sign_in", "error_start"),
    [
        ("en-US", 1280, "Sign-in", "IP address: Enter an IP address"),
        ("zh-CN", 390, "登录", "IP 地址: 请输入 IP 地址"),
    ],
)
def test_the_audit_log_in_words_filtered_by_address_range(
    devices, locale, width, sign_in, error_start
):
    page = devices.new_page(locale=locale, width=width)
    log_in(page, "staffer")
    open_once_sealed(page, "/admin/audit/auditevent/", event_code="auth_login")
    first = page.locator("#result_list td.field-event").filter(has_text="auth_login").first
    expect(first.locator(".event-label")).to_have_text(sign_in)
    expect(first.locator("code.event-code")).to_have_text("auth_login")

    # The sidebar filter: every browser here comes from 127.0.0.1.
    field = page.locator("#ip-filter")
    field.fill("127.0.0.0/8")
    field.press("Enter")
    expect(page).to_have_url(re.compile(r"[?&]ip=127\.0\.0\.0%2F8"))
    expect(page.locator("#result_list td.field-ip_address").first).to_have_text("127.0.0.1")
    shoot(page, f"admin-audit-log-ip-range-{locale}")

    page.locator("#ip-filter").fill("10.0.0.0/8")
    page.locator("#ip-filter").press("Enter")
    expect(page.locator("#result_list td.field-ip_address")).to_have_count(0)

    page.locator("#ip-filter").fill("10.1.0.0/99")
    page.locator("#ip-filter").press("Enter")
    expect(page.locator("#ip-filter-error")).to_contain_text(error_start)
    expect(page.locator("#ip-filter")).to_have_attribute("aria-invalid", "true")
    shoot(page, f"admin-audit-log-ip-error-{locale}")


@pytest.mark.parametrize(
    ("locale", "width", "too_large", "empty"),
    [
        (
            "en-US",
            1280,
            "big.png: file is 26.0\u00a0MB; the limit is 25.0\u00a0MB.",
            "empty.png: file is empty.",
        ),
        ("zh-CN", 390, "big.png：文件大小为 26.0\u00a0MB；上限为 25.0\u00a0MB。", "empty.png"),  # noqa: RUF001
    ],
)
def test_the_upload_page_offers_only_readable_pairs_and_checks_before_sending(
    devices, locale, width, too_large, empty
):
    page = devices.new_page(locale=locale, width=width)
    log_in(page, "bob")
    page.goto("/tasks/upload/")
    language = page.locator("#id_language")
    page.select_option("#id_engine", "tesseract")
    offered = language.locator("option:not([disabled])")
    assert "ch" not in offered.evaluate_all("options => options.map(o => o.value)")
    page.select_option("#id_engine", "rapidocr")
    values = offered.evaluate_all("options => options.map(o => o.value)")
    assert "ch" in values and "eng" not in values
    # A language of the other engine, chosen before, falls back to the engine's default.
    page.select_option("#id_language", "ch")
    page.select_option("#id_engine", "tesseract")
    expect(language).to_have_value("")

    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    image = samples.encode_image(samples.make_text_image(samples.KNOWN_WORDS), format="PNG")
    page.set_input_files(
        "#id_file",
        [
            {"name": "empty.png", "mimeType": "image/png", "buffer": b""},
            {"name": "notes.txt", "mimeType": "text/plain", "buffer": b"hello"},
            {"name": "ok.png", "mimeType": "image/png", "buffer": image},
        ],
    )
    # 26 MB made in the page: sent through the driver it would take longer than the test.
    page.locator("#id_file").evaluate(
        """input => {
          const files = new DataTransfer();
          files.items.add(new File([new ArrayBuffer(26 * 1024 * 1024)], "big.png",
                                   {type: "image/png"}));
          for (const file of input.files) { files.items.add(file); }
          input.files = files.files;
        }"""
    )
    page.locator("#upload-button").click()
    box = page.locator("#checked-in-page")
    expect(box).to_be_visible()
    expect(box).to_contain_text(too_large)
    expect(box).to_contain_text(empty)
    expect(box).to_contain_text("notes.txt")
    assert "bytes" not in box.inner_text()
    shoot(page, f"upload-checked-in-page-{locale}")
    # Nothing was sent, and the files are still chosen.
    assert posts == []
    assert page.locator("#id_file").evaluate("input => input.files.length") == 4


LONG_NAME = ("quarterly-statement-" * 7)[:121] + ".png"


@pytest.mark.parametrize(
    ("locale", "width", "done"), [("zh-CN", 1280, "已完成"), ("en-US", 390, "Completed")]
)
def test_a_long_name_and_a_turned_scan_keep_the_list_tidy(devices, locale, width, done):
    page = devices.new_page(locale=locale, width=width)
    user = "dana" if locale == "zh-CN" else "chen"
    log_in(page, user)
    upright = samples.make_text_image(samples.KNOWN_WORDS)
    sideways = samples.encode_image(upright.rotate(90, expand=True), format="PNG")
    page.goto("/tasks/upload/")
    page.set_input_files(
        "#id_file", [{"name": LONG_NAME, "mimeType": "image/png", "buffer": sideways}]
    )
    page.locator("#upload-button").click()
    page.wait_for_url("/")
    page.wait_for_function(rows_done_js(1), timeout=OCR_TIMEOUT_MS)
    page.reload()
    row = page.locator("#task-table tbody tr").first
    link = row.locator("td.name a")
    expect(link).to_have_attribute("title", LONG_NAME)
    # Cut with an ellipsis on one line, not wrapped over the row.
    assert link.evaluate("a => a.scrollWidth > a.clientWidth")
    assert link.evaluate("a => getComputedStyle(a).textOverflow") == "ellipsis"
    badge = row.locator(".badge")
    expect(badge).to_have_text(done)
    assert badge.evaluate("b => b.getClientRects().length") == 1
    line = badge.evaluate("b => parseFloat(getComputedStyle(b).lineHeight) || 20")
    assert badge.bounding_box()["height"] < 2 * line
    # The thumbnail is the page as the detail page shows it: upright, wider than tall.
    thumb = row.locator("td.thumb img")
    expect(thumb).to_have_js_property("complete", True)
    width_, height_ = thumb.evaluate("img => [img.naturalWidth, img.naturalHeight]")
    assert width_ > height_
    shoot(page, f"task-list-long-name-{locale}")
    link.click()
    preview = page.locator("section.card img").first
    preview.scroll_into_view_if_needed()
    expect(preview).to_have_js_property("complete", True)
    assert preview.evaluate("img => img.naturalWidth > img.naturalHeight")


def test_the_admin_task_list_keeps_its_columns_at_1280(devices):
    page = devices.new_page()
    log_in(page, "staffer")
    # A task of its own with a 125-character name, the width that broke the list.
    image = samples.encode_image(samples.make_text_image(samples.KNOWN_WORDS), format="PNG")
    page.goto("/tasks/upload/")
    page.set_input_files(
        "#id_file", [{"name": LONG_NAME, "mimeType": "image/png", "buffer": image}]
    )
    page.locator("#upload-button").click()
    page.wait_for_url("/")
    page.goto("/admin/tasks/ocrtask/")
    expect(page.locator("#result_list .field-name span").first).to_have_attribute(
        "title", LONG_NAME
    )
    headers = page.locator("#result_list thead th")
    expect(headers.first).to_be_visible()
    for index in range(headers.count()):
        box = headers.nth(index).bounding_box()
        assert box is not None and box["x"] + box["width"] <= 1280
    shoot(page, "admin-task-list-1280")


def test_a_regular_user_gets_the_sites_403_at_admin_and_a_page_at_unlock(devices):
    page = devices.new_page(locale="zh-CN", width=390)
    log_in(page, "alice")
    response = page.goto("/admin/")
    assert response is not None and response.status == 403
    expect(page.locator("#error-heading")).to_be_visible()
    expect(page.locator("#id_password")).to_have_count(0)
    response = page.goto("/accounts/unlock/")
    assert response is not None and response.status == 405
    expect(page.locator("#error-heading")).to_have_text("此地址不能直接打开")
    shoot(page, "unlock-get-405")
    # Anonymous visitors still get the admin's sign-in form.
    anonymous = devices.new_page()
    anonymous.goto("/admin/")
    expect(anonymous.locator("#id_password")).to_be_visible()


@pytest.mark.parametrize(
    ("locale", "width", "left"),
    [("zh-CN", 390, "还剩 1 次尝试"), ("en-US", 1280, "1 attempt left")],
)
def test_the_login_page_warns_before_the_lockout_and_says_until_when(devices, locale, width, left):
    page = devices.new_page(locale=locale, width=width)
    # A username nobody has: the warning is the same whether the account exists or not.
    name = f"nobody-{locale}"
    for _attempt in range(4):
        page.goto("/accounts/login/")
        page.fill("#id_username", name)
        page.fill("#id_password", "not the password")
        page.locator("main form button[type=submit]").click()
        expect(page.locator("main [role=alert]").first).to_be_visible()
    expect(page.locator("#attempts-left")).to_contain_text(left)
    shoot(page, f"login-attempts-left-{locale}")
    page.fill("#id_username", name)
    page.fill("#id_password", "not the password")
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.locator("main form button[type=submit]").click()
    assert answer.value.status == 429
    expect(page.locator("#retry-at")).to_contain_text("UTC")
    shoot(page, f"lockout-retry-at-{locale}")
