"""Real-browser tests of the edges (issue 14): error pages, lockout and unlock, cleanup
confirmation, the audit list for people, the dashboard's links; at desktop and phone width.

The browser, the live site and the helpers are those of test_browser.py; this module has
its own live site and users, because a cleanup here deletes every task on it.
"""

# Fixtures imported from test_browser are used as parameters of the same name (F811).
# ruff: noqa: F811

from __future__ import annotations

import os
import re
from collections.abc import Iterator

import pytest

from audit.tests.fixtures import PASSWORD
from tasks.tests import samples
from tasks.tests.live_site import LiveSite, served_site

from .test_browser import (  # noqa: F401 - fixtures are found by name
    ARTIFACTS,
    MISSING,
    chromium,
    devices,
    log_in,
    open_once_sealed,
    shoot,
)

pytestmark = [pytest.mark.browser]

if MISSING is None:
    from playwright.sync_api import Page, expect

# One set of users per width: a lockout or a cleanup at one width must not meet the other.
WIDTHS = {"desktop": 1280, "phone": 390}
USERS = [
    *[(f"{role}-{device}", role == "boss") for device in WIDTHS for role in ("ann", "ivy", "boss")]
]


@pytest.fixture(scope="module")
def live_site() -> Iterator[LiveSite]:
    """Serve this checkout with gunicorn and a worker on a fresh database of its own."""
    log_dir = ARTIFACTS / "browser-logs" / f"run-{os.getpid()}-staff"
    with served_site(
        log_dir=log_dir, prefix="ocr-live-staff-", users=USERS, password=PASSWORD
    ) as site:
        yield site


@pytest.fixture(params=list(WIDTHS))
def device(request) -> str:
    return request.param


def open_page(devices, device: str, *, locale: str = "en-US") -> Page:
    page = devices.new_page(locale=locale)
    page.set_viewport_size({"width": WIDTHS[device], "height": 860})
    return page


def assert_no_sideways_scroll(page: Page) -> None:
    overflow = page.evaluate(
        "document.documentElement.scrollWidth"
        " - Math.min(window.innerWidth, document.documentElement.clientWidth)"
    )
    assert overflow <= 0, f"{overflow} px of horizontal scroll at {page.url}"


def assert_list_fits(page: Page) -> None:
    """Assert an admin list shows every column: no sideways scroll of the page or the table."""
    assert_no_sideways_scroll(page)
    hidden = page.evaluate(
        "(() => { const box = document.querySelector('#changelist .results');"
        " return box.scrollWidth - box.clientWidth; })()"
    )
    assert hidden <= 0, f"{hidden} px of the list are scrolled out of sight at {page.url}"


def fail_login(page: Page, username: str, times: int) -> None:
    for _ in range(times):
        page.goto("/accounts/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", "not the password")
        page.locator("main form button[type=submit]").click()


def test_error_pages_lead_back_and_api_errors_are_json(devices, device):
    page = open_page(devices, device)
    log_in(page, f"ann-{device}")

    response = page.goto("/tasks/00000000-0000-0000-0000-000000000000/")
    assert response.status == 404
    expect(page.locator("main h1")).to_have_text("Page not found")
    assert_no_sideways_scroll(page)
    shoot(page, f"error-404-{device}")
    page.get_by_role("link", name="Back to my tasks").click()
    expect(page.locator("main h1")).to_have_text("My tasks")

    api = page.request.get("/api/v2/admin/audit-logs/")
    assert api.status == 404
    assert api.headers["content-type"] == "application/json"
    assert api.json()["detail"] == "Not found. Did you mean /api/v2/admin/audit-logs?"


def test_lockout_page_says_how_long_and_staff_unlock_from_the_dashboard(devices, device):
    visitor = open_page(devices, device, locale="zh-CN")
    fail_login(visitor, f"ivy-{device}", 5)

    expect(visitor.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(visitor.locator("main h1")).to_have_text("尝试次数过多")
    expect(visitor.locator("#retry-after")).to_contain_text("15\xa0分钟")
    assert_no_sideways_scroll(visitor)
    shoot(visitor, f"lockout-zh-hans-{device}", doc=device == "desktop")

    staff = open_page(devices, device)
    log_in(staff, f"boss-{device}")
    staff.goto("/admin/dashboard/")
    locked = staff.locator("#locked-table")
    expect(locked).to_contain_text(f"ivy-{device}")
    # Every table of figures opened: wide tables and charts scroll inside their own box.
    staff.evaluate("document.querySelectorAll('.dashboard details').forEach(d => d.open = true)")
    assert_no_sideways_scroll(staff)
    shoot(staff, f"dashboard-locked-{device}")
    locked.get_by_role("button", name=re.compile(f"Unlock ivy-{device}")).click()
    expect(staff.locator(".messages")).to_contain_text(f"ivy-{device} can log in again.")
    expect(staff.locator("#locked-table")).to_have_text("No account is locked out now.")

    # The failed-login figure leads to exactly those attempts in the audit list.
    staff.locator("#failed-username-table").evaluate(
        "table => table.closest('details').open = true"
    )
    staff.locator("#failed-username-table").get_by_role("link", name=f"ivy-{device}").click()
    expect(staff).to_have_url(re.compile(rf"username=ivy-{device}"))
    usernames = staff.locator("#result_list td.field-username")
    expect(usernames.first).to_be_visible()
    assert set(usernames.all_inner_texts()) == {f"ivy-{device}"}

    log_in(visitor, f"ivy-{device}")


def test_cleanup_asks_first_and_comes_back_as_a_dry_run(devices, device):
    owner = open_page(devices, device)
    log_in(owner, f"ann-{device}")
    owner.get_by_role("link", name="Upload documents").first.click()
    image = samples.encode_image(samples.make_text_image(["cleanup"]), format="PNG")
    owner.set_input_files("#id_file", {"name": "old.png", "mimeType": "image/png", "buffer": image})
    owner.locator("main form button[type=submit]").click()
    owner.wait_for_url("/")

    staff = open_page(devices, device)
    log_in(staff, f"boss-{device}")
    staff.goto("/admin/tasks/ocrtask/cleanup/")
    expect(staff.locator("ol.breadcrumbs")).to_be_visible()
    staff.fill("#id_older_than_days", "0")
    staff.locator("#id_dry_run").uncheck()
    staff.get_by_role("button", name="Run cleanup").or_(
        staff.locator("input[type=submit][value='Run cleanup']")
    ).click()

    expect(staff.locator("#cleanup-summary")).to_contain_text("will be deleted")
    expect(staff.locator("#cleanup-plan")).to_contain_text(f"ann-{device}")
    shoot(staff, f"cleanup-confirm-{device}", doc=device == "desktop")
    staff.locator("#content form input[type=submit]").click()  # "Yes, I'm sure"

    expect(staff.locator("#content h2").first).to_have_text("Deleted")
    expect(staff.locator("#id_dry_run")).to_be_checked()
    owner.reload()
    expect(owner.get_by_role("link", name="old.png")).to_have_count(0)


def test_audit_list_search_toggle_and_timestamps(devices, device):
    page = open_page(devices, device)
    log_in(page, f"boss-{device}")
    page.goto("/admin/audit/auditevent/")
    page.goto("/admin/audit/auditevent/")  # the first visit is a read of the log

    types = page.locator("#result_list td.field-event code.event-code")
    expect(types.first).to_be_visible()
    assert "audit_view" not in types.all_inner_texts()
    if device == "desktop":
        # The whole list fits beside the admin's open navigation sidebar at 1280 px.
        expect(page.locator("#nav-sidebar")).to_be_visible()
        assert_list_fits(page)
    stamp = page.locator("#result_list td.field-timestamp, #result_list th.field-timestamp")
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", stamp.first.inner_text().strip())

    page.fill("#searchbar", f"BOSS-{device[:2].upper()}")
    page.locator("#searchbar").press("Enter")
    page.wait_for_url(re.compile(r"[?&]q="))
    open_once_sealed(page, page.url, event_code="auth_login")  # this sign-in, once sealed
    names = page.locator("#result_list td.field-username")
    expect(names.first).to_be_visible()
    assert set(names.all_inner_texts()) == {f"boss-{device}"}

    page.goto("/admin/audit/auditevent/")
    page.locator("#changelist-filter").get_by_role("link", name="Shown").click()
    expect(page).to_have_url(re.compile(r"reads=shown"))
    open_once_sealed(page, page.url, event_code="audit_view")
    expect(
        page.locator("#result_list td.field-event code.event-code", has_text="audit_view").first
    ).to_be_visible()
    if device == "desktop":
        assert_list_fits(page)
    shoot(page, f"admin-audit-reads-shown-{device}")
