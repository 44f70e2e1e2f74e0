"""Real-browser tests of issue 26's "in people's words" items, in English and Chinese.

The audit log names every event type in words, beside the code it is stored, filtered
and exported as; it is filtered by an address, a prefix or a CIDR range, and a value that
is none of these is answered beside the field. Runs on its own live site, with
test_browser's fixtures.
"""

from __future__ import annotations

import re

import pytest

from . import test_browser
from .test_browser import MISSING, log_in, shoot

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
    page.goto("/admin/audit/auditevent/")
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
