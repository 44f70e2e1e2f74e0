"""Real-browser accessibility tests (issue 26): axe-core on every page, keyboard use.

axe-core (tests/vendor/axe-core/, never served by the site) is evaluated in each page
through the DevTools protocol, which the site's Content-Security-Policy does not govern,
so the pages are checked under the very CSP they are served with. Every page of the site
and the admin pages we own are checked at desktop and phone width, in English and
Chinese, and a few in the dark colour scheme; no violation of impact critical, serious
or moderate may remain. The keyboard tests cover the skip link, the task list's
shortcuts (documented on /help/) and the language selector.

Runs on its own live site with test_browser's browser and helpers.
"""

# Fixtures imported from test_browser are used as parameters of the same name (F811).
# ruff: noqa: F811

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from audit.tests.fixtures import PASSWORD
from tasks.tests import samples
from tasks.tests.live_site import LiveSite, served_site

from .test_browser import (  # noqa: F401 - fixtures are found by name
    ARTIFACTS,
    MISSING,
    OCR_TIMEOUT_MS,
    chromium,
    devices,
    log_in,
    rows_done_js,
    shoot,
)

pytestmark = [pytest.mark.browser]

if MISSING is None:
    from playwright.sync_api import Browser, Page, expect

AXE_JS = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
# What must not remain; axe's "minor" findings are reported by it but not asserted here.
BLOCKING_IMPACTS = {"critical", "serious", "moderate"}
WIDTHS = {"desktop": (1280, 800), "phone": (390, 844)}
LOCALES = {"en": "en-US", "zh-hans": "zh-CN"}
STAFF = "sam"
USERS = [(STAFF, True), ("kim", False)]


@pytest.fixture(scope="module")
def live_site() -> Iterator[LiveSite]:
    """Serve this checkout with gunicorn and a worker on a fresh database of its own."""
    log_dir = ARTIFACTS / "browser-logs" / f"run-{os.getpid()}-a11y"
    with served_site(
        log_dir=log_dir, prefix="ocr-live-a11y-", users=USERS, password=PASSWORD
    ) as site:
        yield site


@dataclass(frozen=True)
class SiteData:
    """What the pages need to show something: a finished task, failed logins, a group.

    The admin's change pages are the paths its lists link to, as a staff member follows
    them (an audit event's, a user's and a group's).
    """

    task_id: str
    event_page: str
    user_page: str
    group_page: str


@pytest.fixture(scope="module")
def site_data(chromium: Browser, live_site: LiveSite) -> SiteData:
    """Give the site a completed task and failed logins, so every page has content."""
    context = chromium.new_context(base_url=live_site.url)
    try:
        page = context.new_page()
        # Failed logins (and a lockout) fill the dashboard's charts, links and tables.
        for _ in range(5):
            page.goto("/accounts/login/")
            page.fill("#id_username", "mallory")
            page.fill("#id_password", "not the password")
            page.locator("main form button[type=submit]").click()
        log_in(page, STAFF)
        page.goto("/tasks/upload/")
        image = samples.encode_image(samples.make_text_image(samples.KNOWN_WORDS), format="PNG")
        page.set_input_files(
            "#id_file", {"name": "receipt.png", "mimeType": "image/png", "buffer": image}
        )
        page.locator("#upload-button").click()
        page.wait_for_url("/")
        page.wait_for_function(rows_done_js(1), timeout=OCR_TIMEOUT_MS)
        row = page.locator("#task-table tr[data-task-id]").first
        task_id = row.get_attribute("data-task-id") or ""
        # A group, made as staff make one, so the group pages have one to show.
        page.goto("/admin/auth/group/add/")
        page.fill("#id_name", "reviewers")
        page.locator("input[name=_save]").click()
        page.wait_for_url("**/admin/auth/group/")
        return SiteData(
            task_id=task_id,
            event_page=change_page(page, "/admin/audit/auditevent/"),
            user_page=change_page(page, f"/admin/auth/user/?q={STAFF}"),
            group_page=change_page(page, "/admin/auth/group/"),
        )
    finally:
        context.close()


def change_page(page: Page, changelist: str) -> str:
    """Return the path of the first object's page that an admin list links to."""
    page.goto(changelist)
    link = page.locator("#result_list tbody a[href*='/change/']").first
    # Without the list's filters it came from (?_changelist_filters=...).
    return (link.get_attribute("href") or "").split("?")[0]


def open_page(devices, *, device: str = "desktop", language: str = "en", dark: bool = False):
    width, height = WIDTHS[device]
    page = devices.new_page(locale=LOCALES[language], width=width)
    page.set_viewport_size({"width": width, "height": height})
    if dark:
        page.emulate_media(color_scheme="dark")
    return page


def axe_violations(page: Page) -> list[str]:
    """Run axe-core on the page as it is now; return its blocking violations in words."""
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(AXE_JS.read_text())
    results = page.evaluate("window.axe.run(document, {resultTypes: ['violations']})")
    found = []
    for violation in results["violations"]:
        if violation["impact"] not in BLOCKING_IMPACTS:
            continue
        for node in violation["nodes"]:
            target = " ".join(str(part) for part in node["target"])
            summary = node.get("failureSummary", "").replace("\n", " ")
            found.append(
                f"{page.url} [{violation['impact']}] {violation['id']}: {violation['help']}"
                f" at {target}: {summary}"
            )
    return found


def site_pages(task_id: str) -> list[str]:
    """Every page a signed-in staff member reaches, the admin pages we own included."""
    return [
        "/",
        "/?q=harbour",
        "/tasks/upload/",
        f"/tasks/{task_id}/",
        f"/tasks/{task_id}/?q=harbour",
        f"/tasks/{task_id}/delete/",
        f"/tasks/delete/?ids={task_id}",
        f"/tasks/rerun/?ids={task_id}",
        f"/tasks/download/?ids={task_id}",
        "/accounts/password/",
        "/help/",
        "/tasks/00000000-0000-0000-0000-000000000000/",  # the 404 page
        "/api/docs/",
    ]


def admin_pages(data: SiteData) -> list[str]:
    """Every admin page we register or serve: each list, an object's page, the add forms."""
    return [
        "/admin/",
        "/admin/dashboard/",
        "/admin/audit/auditevent/",
        data.event_page,
        "/admin/tasks/ocrtask/",
        f"/admin/tasks/ocrtask/{data.task_id}/change/",
        "/admin/tasks/ocrtask/cleanup/",
        "/admin/auth/user/",
        "/admin/auth/user/add/",
        data.user_page,
        "/admin/auth/group/",
        "/admin/auth/group/add/",
        data.group_page,
        "/admin/axes/accessattempt/",
        "/admin/accounts/apitoken/",
        "/admin/token_blacklist/outstandingtoken/",
        "/admin/password_change/",
    ]


def check_pages(page: Page, paths: list[str], *, screenshots: str = "") -> list[str]:
    """Return axe's blocking violations on each page; screenshot them under a prefix."""
    found = []
    for path in paths:
        page.goto(path)
        # The page asked for, not a redirect to another one (the 404 pages stay where asked).
        assert page.url.endswith(path), f"{path} went to {page.url}"
        if path.startswith("/api/docs/"):
            # Swagger UI draws the page from the schema after it loaded.
            page.locator(".swagger-ui .opblock").first.wait_for()
        # Tables of figures opened: what a reader unfolds is checked as well.
        page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
        found += axe_violations(page)
        if screenshots:
            name = re.sub(r"[^a-z]+", "-", re.sub(r"[0-9a-f-]{36}", "task", path)).strip("-")
            shoot(page, f"{screenshots}-{name or 'list'}")
    return found


@pytest.mark.parametrize("language", list(LOCALES))
@pytest.mark.parametrize("device", list(WIDTHS))
def test_no_axe_violations_on_any_page(devices, site_data, device, language):
    page = open_page(devices, device=device, language=language)
    found = check_pages(page, ["/accounts/login/", "/help/", "/no-such-page/", "/admin/login/"])
    sign_in(page, STAFF)
    found += check_pages(page, site_pages(site_data.task_id))
    found += check_pages(page, admin_pages(site_data))
    found += check_pages(page, ["/accounts/password/done/"])
    assert found == [], "axe-core found:\n" + "\n".join(found)


@pytest.mark.parametrize("device", list(WIDTHS))
def test_no_axe_violations_in_the_dark_colour_scheme(devices, site_data, device):
    page = open_page(devices, device=device, dark=True)
    assert page.evaluate("matchMedia('(prefers-color-scheme: dark)').matches")
    found = check_pages(page, ["/accounts/login/"])
    log_in(page, STAFF)
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background != "rgb(245, 246, 248)", "the page kept its light background"
    found += check_pages(
        page,
        [
            "/",
            "/?q=harbour",
            "/tasks/upload/",
            f"/tasks/{site_data.task_id}/",
            "/help/",
            "/admin/dashboard/",
            "/admin/audit/auditevent/",
        ],
        screenshots=f"dark-{device}",
    )
    assert found == [], "axe-core found:\n" + "\n".join(found)


def sign_in(page: Page, username: str) -> None:
    """Log in on a page in any language (log_in expects English)."""
    page.goto("/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url("/")


# An element's text: how many lines it takes (its boxes by their distinct tops), how tall
# it is and how tall one of its lines is, in CSS pixels.
TEXT_LINES_JS = """(node) => {
  const range = document.createRange();
  range.selectNodeContents(node);
  const boxes = [...range.getClientRects()].filter((box) => box.width > 0);
  return {lines: new Set(boxes.map((box) => Math.round(box.top))).size,
          height: range.getBoundingClientRect().height,
          line: parseFloat(getComputedStyle(node).lineHeight)};
}"""


def test_the_pages_column_is_one_line_in_chinese_at_desktop_width(devices, site_data):
    page = open_page(devices, language="zh-hans")
    sign_in(page, STAFF)
    heading = page.locator("#task-table thead th.pages-count")
    cell = page.locator("#task-table tbody td.pages-count").first
    expect(heading).to_have_text("页数")
    expect(cell).to_have_text("1 页")
    # CJK text may break between any two characters: the table squeezed the column to
    # one character's width, "页数" stacked and "1 页" wrapped. Each is one line high.
    for text in (heading.evaluate(TEXT_LINES_JS), cell.evaluate(TEXT_LINES_JS)):
        assert text["lines"] == 1, text
        assert text["height"] <= text["line"] + 1, text
    shoot(page, "tasks-pages-column-zh-hans-desktop")


@pytest.mark.parametrize("language", list(LOCALES))
def test_search_results_and_the_bulk_rerun_page_for_the_readme(devices, site_data, language):
    page = open_page(devices, language=language)
    sign_in(page, STAFF)
    page.goto("/?q=harbour")
    # The hit count and a snippet with its page number and the term marked.
    row = page.locator(f"#task-{site_data.task_id}")
    expect(row.locator(".hit-count")).to_have_text(re.compile(r"^(1 hit|1 处匹配)$"))
    expect(row.locator("p.snippet mark").first).to_have_text(re.compile("harbour", re.I))
    expect(row.locator("p.snippet a").first).to_have_attribute(
        "href", re.compile(r"\?q=harbour#page-1$")
    )
    shoot(page, f"tasks-search-{language}", doc=True)
    page.goto(f"/tasks/rerun/?ids={site_data.task_id}")
    expect(page.locator("#to-rerun li")).to_have_count(1)
    expect(page.locator("#to-rerun")).to_contain_text("receipt.png")
    shoot(page, f"tasks-bulk-rerun-{language}", doc=language == "en")


# --- Keyboard ---------------------------------------------------------------------------


def focused(page: Page) -> str:
    """Return the focused element's id, or its tag and text when it has none."""
    return page.evaluate(
        "(() => { const e = document.activeElement;"
        " return e.id || (e.tagName + ':' + e.textContent.trim()); })()"
    )


def test_skip_link_is_the_first_stop_and_leads_to_the_content(devices, site_data):
    page = open_page(devices)
    log_in(page, STAFF)
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_be_visible()
    page.keyboard.press("Enter")
    assert focused(page) == "content"
    # The next Tab goes on from the content, not from the top bar.
    page.keyboard.press("Tab")
    assert page.evaluate("document.getElementById('content').contains(document.activeElement)")


def test_list_shortcuts_search_next_previous_open(devices, site_data, live_site):
    page = open_page(devices)
    log_in(page, "kim")
    image = samples.encode_image(samples.make_text_image(samples.KNOWN_WORDS), format="PNG")
    page.goto("/tasks/upload/")
    page.set_input_files(
        "#id_file",
        [
            {"name": f"scan-{number}.png", "mimeType": "image/png", "buffer": image}
            for number in (1, 2, 3)
        ],
    )
    page.locator("#upload-button").click()
    page.wait_for_url("/")
    page.wait_for_function(rows_done_js(3), timeout=OCR_TIMEOUT_MS)
    names = page.locator("#task-table td.name > a").all_inner_texts()
    assert len(names) == 3

    # j/k move through the rows, from the first; k stops at the first, j at the last.
    page.keyboard.press("j")
    expect(page.get_by_role("link", name=names[0], exact=True)).to_be_focused()
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("j")
    expect(page.get_by_role("link", name=names[2], exact=True)).to_be_focused()
    page.keyboard.press("k")
    expect(page.get_by_role("link", name=names[1], exact=True)).to_be_focused()

    # "/" goes to the search box, and letters typed there are text, not shortcuts.
    page.keyboard.press("/")
    search = page.locator("main input[type=search]")
    expect(search).to_be_focused()
    page.keyboard.type("jk/o")
    expect(search).to_have_value("jk/o")
    expect(search).to_be_focused()

    # Escape leaves the search box; "o" opens the chosen row's task.
    page.keyboard.press("Escape")
    page.keyboard.press("j")
    page.keyboard.press("j")
    expect(page.get_by_role("link", name=names[1], exact=True)).to_be_focused()
    page.keyboard.press("o")
    page.wait_for_url(re.compile(r"/tasks/[0-9a-f-]{36}/$"))
    expect(page.locator("main h1")).to_contain_text(names[1])


def test_help_page_lists_the_shortcuts_and_is_linked_from_the_header(devices, site_data):
    for language, heading in (("en", "Help"), ("zh-hans", "帮助")):
        page = open_page(devices, language=language)
        page.goto("/accounts/login/")
        page.locator("header a[href='/help/']").click()
        expect(page.locator("main h1")).to_have_text(heading)
        shoot(page, f"help-{language}", doc=True, full_page=False)
        keys = page.locator("#shortcuts kbd").all_inner_texts()
        assert {"/", "j", "k", "o"} <= set(keys)


def test_language_selector_waits_for_enter_on_the_keyboard(devices, site_data):
    page = open_page(devices)
    log_in(page, STAFF)
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url) if "/i18n/setlang/" in r.url else None)
    page.locator("#language").focus()
    for key in ("ArrowDown", "ArrowUp", "ArrowDown"):
        page.keyboard.press(key)
    expect(page.locator("#language")).to_have_value("zh-hans")
    assert sent == []
    expect(page.locator("html")).to_have_attribute("lang", "en")
    with page.expect_response(re.compile(r"/i18n/setlang/$")):
        page.keyboard.press("Enter")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    assert len(sent) == 1


def test_dashboard_scroll_areas_are_reached_by_keyboard_at_phone_width(devices, site_data):
    page = open_page(devices, device="phone")
    log_in(page, STAFF)
    page.goto("/admin/dashboard/")
    page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
    # Each box that scrolls sideways is a named tab stop, or holds tab stops (links,
    # buttons) in every row, which the browser scrolls into view as they get the focus.
    scrollers = page.evaluate(
        "[...document.querySelectorAll('main *')]"
        ".filter(e => e.scrollWidth > e.clientWidth + 1"
        " && ['auto', 'scroll'].includes(getComputedStyle(e).overflowX))"
        ".map(e => ({box: e.className, stop: e.tabIndex >= 0,"
        " name: e.getAttribute('aria-labelledby') || '',"
        " rows: e.querySelectorAll('tbody tr').length,"
        " rowsWithStops: [...e.querySelectorAll('tbody tr')]"
        ".filter(r => r.querySelector('a[href], button')).length}))"
    )
    assert len(scrollers) >= 5, scrollers  # three charts, two tables of figures at least
    for box in scrollers:
        reached = (box["stop"] and box["name"]) or box["rows"] == box["rowsWithStops"] > 0
        assert reached, box
