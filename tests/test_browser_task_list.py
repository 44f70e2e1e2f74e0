"""Real-browser tests of the task list's edges, at desktop (1280 px) and phone (390 px) width.

Search, sorting, bulk delete, thumbnails and the busy upload button; no sideways scroll;
every text at WCAG AA contrast; progress announced; keyboard order follows the page.
Runs on its own live site (gunicorn and a worker), with the fixtures of test_browser.
"""

from __future__ import annotations

import re

import pytest

from tasks.tests import samples

from . import test_browser
from .test_browser import MISSING, OCR_TIMEOUT_MS, log_in, rows_done_js, shoot, worker_paused

# The live site, the browser and its devices, as test_browser defines them (one site per module).
live_site = test_browser.live_site
chromium = test_browser.chromium
devices = test_browser.devices

pytestmark = [pytest.mark.browser]

if MISSING is None:
    from playwright.sync_api import Page, expect

WIDTHS = {"desktop": 1280, "phone": 390}
DOCUMENTS = {
    "lighthouse.png": ["lighthouse", "keeper", "storm", "1911"],
    "invoice.png": samples.KNOWN_WORDS,
    "meadow.png": samples.SECOND_PAGE_WORDS,
}

# Every element with its own visible text: the WCAG contrast ratio of its colour against
# the first opaque background behind it. Disabled controls are exempt (WCAG 1.4.3).
CONTRAST_JS = """() => {
  const rgb = (css) => (css.match(/[\\d.]+/g) || []).map(Number);
  const channel = (c) => {
    c /= 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  const luminance = ([r, g, b]) => 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
  const background = (element) => {
    for (let node = element; node; node = node.parentElement) {
      const colour = rgb(getComputedStyle(node).backgroundColor);
      if (colour.length === 3 || colour[3] === 1) { return colour.slice(0, 3); }
    }
    return [255, 255, 255];
  };
  const failures = [];
  for (const element of document.querySelectorAll("body *")) {
    const ownText = Array.from(element.childNodes).some(
      (node) => node.nodeType === Node.TEXT_NODE && node.textContent.trim());
    if (!ownText || element.disabled || !element.checkVisibility()) { continue; }
    if (element.closest(".visually-hidden, option, noscript")) { continue; }
    const a = luminance(rgb(getComputedStyle(element).color));
    const b = luminance(background(element));
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    if (ratio < 4.5) { failures.push(element.tagName + "." + element.className + " '" +
      element.textContent.trim().slice(0, 30) + "' " + ratio.toFixed(2)); }
  }
  return failures;
}"""


def assert_fits(page: Page) -> None:
    """Nothing on the page is wider than the window: no sideways scrolling."""
    widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"page is {widths[0]} px wide in a {widths[1]} px window"


def assert_contrast(page: Page) -> None:
    assert page.evaluate(CONTRAST_JS) == []


def row_names(page: Page) -> list[str]:
    return page.locator("#task-table tbody td.name > a").all_inner_texts()


@pytest.mark.parametrize("device", WIDTHS)
def test_task_list_search_sort_bulk_delete(devices, live_site, device):
    width = WIDTHS[device]
    page = devices.new_page(width=width)
    log_in(page, "alice" if device == "desktop" else "bob")
    expect(page.locator("#no-tasks")).to_contain_text("No tasks yet.")
    expect(page.locator("form[role=search]")).to_have_count(0)
    assert_fits(page)
    if device == "phone":
        # A compact top bar: two rows at most, not three.
        assert page.locator(".topbar").bounding_box()["height"] <= 80

    page.get_by_role("link", name="Upload documents").first.click()
    page.set_input_files(
        "#id_file",
        [
            {
                "name": name,
                "mimeType": "image/png",
                "buffer": samples.encode_image(samples.make_text_image(words), format="PNG"),
            }
            for name, words in DOCUMENTS.items()
        ],
    )
    assert_fits(page)
    assert_contrast(page)
    shoot(page, f"upload-{device}", doc=device == "phone")

    # The first submission is held in the page (a listener added after site's own cancels
    # it), so the busy state can be seen however fast the server answers.
    page.evaluate(
        """() => document.getElementById("upload-form").addEventListener(
             "submit", (event) => event.preventDefault(), {once: true})"""
    )
    with worker_paused(live_site):
        page.get_by_role("button", name="Upload and start OCR").click()
        expect(page.locator("#upload-button")).to_be_disabled()
        expect(page.locator("#upload-button")).to_have_text("Uploading…")
        expect(page.locator("#upload-progress progress")).to_be_visible()
        expect(page.locator("#upload-status")).to_have_text("Uploading…")
        assert_contrast(page)
        shoot(page, f"upload-busy-{device}")
        # Now let it go: form.submit() sends the same form without a second submit event.
        with page.expect_navigation(url=re.compile(r"/$")):
            page.evaluate('() => document.getElementById("upload-form").submit()')
        expect(page.locator("#task-table tr[data-active]")).to_have_count(3)
    page.wait_for_function(rows_done_js(3), timeout=OCR_TIMEOUT_MS)
    # The list's live region told screen readers what finished.
    expect(page.locator("#task-announcer")).to_contain_text(": Completed")
    for image in page.locator("#task-table td.thumb img").all():
        expect(image).to_have_js_property("complete", True)
        assert image.evaluate("img => img.naturalWidth") > 0
    assert_fits(page)
    assert_contrast(page)
    shoot(page, f"tasks-{device}", doc=True)

    search = page.get_by_role("searchbox", name="Search the text")
    search.fill("lighthouse")
    search.press("Enter")
    expect(page).to_have_url(re.compile(r"[?&]q=lighthouse"))
    expect(page.locator("#task-table tbody tr")).to_have_count(1)
    assert row_names(page) == ["lighthouse.png"]

    search.fill("zebra")
    search.press("Enter")
    expect(page.locator("#no-matches")).to_contain_text("No tasks match this search.")
    expect(page.locator("#no-tasks")).to_have_count(0)
    shoot(page, f"tasks-no-match-{device}")

    page.get_by_role("link", name="Clear").click()
    page.get_by_label("Sort by").select_option("name")
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(r"[?&]sort=name"))
    assert row_names(page) == ["invoice.png", "lighthouse.png", "meadow.png"]

    page.get_by_label("Select “lighthouse.png”").check()
    page.get_by_label("Select “meadow.png”").check()
    page.get_by_role("button", name="Delete selected…").click()
    expect(page.locator("main h1")).to_have_text("Delete 2 tasks?")
    expect(page.locator(".doomed li")).to_have_count(2)
    assert_fits(page)
    shoot(page, f"tasks-bulk-delete-{device}", doc=device == "desktop")
    page.get_by_role("button", name="Delete").click()
    page.wait_for_url("/")
    expect(page.locator(".messages")).to_contain_text("Deleted 2 tasks.")
    assert row_names(page) == ["invoice.png"]

    page.get_by_role("link", name="invoice.png").click()
    expect(page.locator("main h1")).to_have_text("invoice.png")
    expect(page.locator("#detail-progress-text")).to_have_attribute("aria-live", "polite")
    expect(page.locator("pre")).to_contain_text("harbour")
    # The SHA-256 wraps inside its card instead of pushing the page wider.
    hash_box = page.locator("code").bounding_box()
    assert hash_box["x"] + hash_box["width"] <= width
    assert_fits(page)
    assert_contrast(page)
    shoot(page, f"task-detail-{device}", doc=device == "phone")


def test_keyboard_order_follows_the_page(devices):
    page = devices.new_page()
    log_in(page, "chen")
    page.goto("/tasks/upload/")
    # Tab through the whole page: focus must visit the controls in document order,
    # which is also the order they are shown in (no positive tabindex, nothing reordered).
    focusable = page.evaluate(
        """() => Array.from(document.querySelectorAll(
          "a[href], button:not([disabled]), input:not([type=hidden]), select, textarea"))
          .filter((el) => el.checkVisibility()).map((el) => el.outerHTML.slice(0, 80))"""
    )
    visited = []
    for _ in focusable:
        page.keyboard.press("Tab")
        visited.append(page.evaluate("document.activeElement.outerHTML.slice(0, 80)"))
    assert visited == focusable
    positive = "document.querySelectorAll('[tabindex]:not([tabindex=\"-1\"])').length"
    assert page.evaluate(positive) == 0


def test_long_file_names_chosen_for_upload_fit_a_phone(devices):
    page = devices.new_page(width=WIDTHS["phone"])
    log_in(page, "chen")
    page.goto("/tasks/upload/")
    # A scanner's name for a file has no spaces to break at; the list of chosen files
    # under the input must wrap it rather than widen the page.
    name = "scan_2026_11_27_invoice_from_the_harbour_office_second_copy.png"
    image = samples.encode_image(samples.make_text_image(["harbour"]), format="PNG")
    page.set_input_files("#id_file", [{"name": name, "mimeType": "image/png", "buffer": image}])
    expect(page.locator("#chosen")).to_have_text(name)
    assert_fits(page)
