"""Real-browser tests: Debian's chromium, driven by Playwright, against gunicorn and a real worker.

Every page visited is screenshotted into test-artifacts/screenshots/ (git-ignored); with
DOC_SCREENSHOTS=1 (`make screenshots`) the main ones are also copied to docs/screenshots/
for the README. A failing test leaves a screenshot of each open page under
test-artifacts/screenshots/failures/, and the server and worker logs are in
test-artifacts/browser-logs/run-<pid>/.
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings

from audit.api.export import EXPORT_COLUMNS
from audit.tests.fixtures import PASSWORD
from tasks.tests import samples
from tasks.tests.live_site import LiveSite, served_site

from .browser_env import CHROMIUM, missing_requirement
from .conftest import phase_reports

# Debian's chromium, headless, with nothing that phones home or needs a GPU or a sandbox
# (containers rarely allow the user namespaces chromium's sandbox needs).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
BASE_DIR = Path(settings.BASE_DIR)
ARTIFACTS = BASE_DIR / "test-artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"
DOC_SCREENSHOTS = BASE_DIR / "docs" / "screenshots"
# Each test logs in as its own user, so the order the tests run in does not matter.
USERS = [
    ("alice", False),
    ("bob", False),
    ("chen", False),
    ("dana", False),
    ("erin", False),
    ("staffer", True),
]
OCR_TIMEOUT_MS = 120_000

# Chrome logs CSP violations to the console itself; the listener reports every violation
# event too, so none goes unnoticed whatever the console wording.
CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error("Content Security Policy violation: " + event.violatedDirective
    + " blocked " + (event.blockedURI || "inline code") + " in " + event.sourceFile
    + ":" + event.lineNumber);
});
"""


MISSING = missing_requirement()
# The root conftest stops the run when MISSING is set, unless BROWSER_TESTS=0 leaves
# these tests out; the import is guarded so collection still works then.
pytestmark = [pytest.mark.browser]

if MISSING is None:
    from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright


# --- Fixtures ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def live_site() -> Iterator[LiveSite]:
    """Serve this checkout with gunicorn and an ocr_worker on a fresh database.

    Module-scoped: started for the first browser test, stopped after the last, so the
    rest of the suite does not run beside an idle server and a polling worker.
    """
    # One directory per run: two test runs on one checkout must not clobber each other's logs.
    log_dir = ARTIFACTS / "browser-logs" / f"run-{os.getpid()}"
    with served_site(log_dir=log_dir, prefix="ocr-live-", users=USERS, password=PASSWORD) as site:
        yield site


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    # Generous: OCR, two gunicorn workers and the browser share the CPU.
    expect.set_options(timeout=15_000)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Devices:
    """Browser contexts (one per device: own cookies) that record what their console says."""

    def __init__(self, browser: Browser, base_url: str) -> None:
        self.browser = browser
        self.base_url = base_url
        self.contexts: list[BrowserContext] = []
        self.console: list[str] = []

    def new_page(self, *, locale: str = "en-US", width: int = 1280) -> Page:
        context = self.browser.new_context(
            base_url=self.base_url,
            locale=locale,
            viewport={"width": width, "height": 860},
            accept_downloads=True,
        )
        context.set_default_timeout(15_000)
        context.add_init_script(CSP_LISTENER)
        context.on(
            "console", lambda message: self.console.append(f"{message.type}: {message.text}")
        )
        context.on("weberror", lambda error: self.console.append(f"pageerror: {error.error}"))
        self.contexts.append(context)
        return context.new_page()

    def csp_violations(self) -> list[str]:
        return [line for line in self.console if "Content Security Policy" in line]

    def script_errors(self) -> list[str]:
        return [line for line in self.console if line.startswith("pageerror:")]


@pytest.fixture
def devices(chromium, live_site, request) -> Iterator[Devices]:
    """Open browser contexts on the live site; screenshot them all if the test fails."""
    opened = Devices(chromium, live_site.url)
    yield opened
    reports = request.node.stash.get(phase_reports, {})
    failed = any(report.failed for report in reports.values())
    for number, context in enumerate(opened.contexts):
        if failed:
            for index, page in enumerate(context.pages):
                name = f"{request.node.name}-device{number}-page{index}.png"
                shoot_to(page, SCREENSHOTS / "failures" / name)
        context.close()
    if not failed:
        # Our pages run under a strict CSP (nonces, no inline styles): nothing may be refused.
        assert opened.csp_violations() == []
        assert opened.script_errors() == []


@pytest.fixture
def page(devices) -> Page:
    return devices.new_page()


# --- Helpers -----------------------------------------------------------------------------


def shoot_to(page: Page, path: Path, *, full_page: bool = True) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        page.screenshot(path=path, full_page=full_page)
    except Exception as error:  # a crashed page must not hide the test's own failure
        path.with_suffix(".txt").write_text(f"screenshot failed: {error}\n")


def shoot(page: Page, name: str, *, doc: bool = False, full_page: bool = True) -> None:
    """Screenshot the page as an artefact; with DOC_SCREENSHOTS=1 also for the README.

    The whole page unless `full_page` is False: a long page's README shot is its first
    screen, which keeps the file small.
    """
    path = SCREENSHOTS / f"{name}.png"
    shoot_to(page, path, full_page=full_page)
    if doc and os.environ.get("DOC_SCREENSHOTS") == "1":
        DOC_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOC_SCREENSHOTS / f"{name}.png")


def log_in(page: Page, username: str, *, screenshot: str | None = None) -> None:
    page.goto("/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    if screenshot:
        shoot(page, screenshot, doc=True)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url("/")
    expect(page.locator(".whoami")).to_contain_text(username)


# The live site's sealer links a new event within a second or two; a loaded machine
# (the PostgreSQL run beside other work) took longer.
SEALED_TIMEOUT_S = 30


def open_once_sealed(page: Page, path: str, *, event_code: str) -> None:
    """Open an audit log page, again until an event of `event_code` is listed in it.

    The audit log lists sealed events only (an unsealed row is anyone's INSERT), and an
    event just recorded is sealed by the site's own sealer process, not by the request.
    """
    deadline = time.monotonic() + SEALED_TIMEOUT_S
    listed = page.locator("#result_list td.field-event code.event-code", has_text=event_code)
    while True:
        page.goto(path)
        if listed.count() or time.monotonic() > deadline:
            return
        page.wait_for_timeout(500)


@contextmanager
def worker_paused(site: LiveSite) -> Iterator[None]:
    """Stop the worker for the enclosed block; a regular one runs again after it."""
    site.stop_worker()
    try:
        yield
    finally:
        site.start_worker()


def show_page_images(page: Page) -> None:
    """Scroll every lazy page preview into view and wait until each has decoded."""
    for image in page.locator("section.card img").all():
        image.scroll_into_view_if_needed()
        expect(image).to_have_js_property("complete", True)
        assert image.evaluate("img => img.naturalWidth") > 0
    page.evaluate("window.scrollTo(0, 0)")


def rows_done_js(count: int) -> str:
    """Return a JS predicate: the task table has `count` rows, none running, all at 100%."""
    return f"""() => {{
      const rows = document.querySelectorAll("#task-table tbody tr");
      return rows.length === {count} && Array.from(rows).every(
        (row) => !row.hasAttribute("data-active") && row.querySelector("progress").value === 100);
    }}"""


def half_done_js(count: int) -> str:
    """Return a JS predicate: `count` rows, some finished and some still running."""
    return f"""() => {{
      const rows = document.querySelectorAll("#task-table tbody tr").length;
      const running = document.querySelectorAll("#task-table tbody tr[data-active]").length;
      return rows === {count} && running > 0 && running < rows;
    }}"""


# --- Tests -------------------------------------------------------------------------------


def test_upload_progress_text_download_delete(page, live_site):
    image = samples.encode_image(samples.make_text_image(samples.KNOWN_WORDS), format="PNG")
    pdf = samples.image_pdf_bytes(
        [
            samples.make_text_image(samples.KNOWN_WORDS),
            samples.make_text_image(samples.SECOND_PAGE_WORDS),
        ]
    )
    log_in(page, "alice", screenshot="login")
    shoot(page, "tasks-empty")

    page.get_by_role("link", name="Upload documents").first.click()
    page.set_input_files(
        "#id_file",
        [
            {"name": "receipt.png", "mimeType": "image/png", "buffer": image},
            {"name": "report.pdf", "mimeType": "application/pdf", "buffer": pdf},
        ],
    )
    expect(page.locator("#chosen")).to_have_text("receipt.png, report.pdf")
    shoot(page, "upload", doc=True)

    with worker_paused(live_site):
        page.get_by_role("button", name="Upload and start OCR").click()
        page.wait_for_url("/")
        expect(page.locator(".messages")).to_contain_text("2 documents queued for OCR.")
        # Queued while the worker is stopped: both rows start unfinished.
        expect(page.locator("#task-table tr[data-active]")).to_have_count(2)
        navigations: list[str] = []
        page.on(
            "framenavigated",
            lambda frame: navigations.append(frame.url) if frame == page.main_frame else None,
        )
        page.evaluate("window.__marker = 'same document'")

        # A worker that stops after one task: the list is caught half done, every time.
        live_site.start_worker(max_tasks=1)
        page.wait_for_function(half_done_js(2), timeout=OCR_TIMEOUT_MS)
        expect(page.locator("#task-table .badge.completed")).to_have_count(1)
        expect(page.locator("#task-table .badge.queued")).to_have_count(1)
        shoot(page, "tasks-in-progress", doc=True)
        live_site.wait_for_worker_exit()

    # worker_paused started a regular worker on the way out: the second task completes.
    page.wait_for_function(rows_done_js(2), timeout=OCR_TIMEOUT_MS)

    # Progress arrived by polling /tasks/rows/, in the page first loaded.
    assert page.evaluate("window.__marker") == "same document"
    assert navigations == []
    expect(page.locator("#task-table .badge.completed")).to_have_count(2)
    shoot(page, "tasks", doc=True)

    page.get_by_role("link", name="report.pdf").click()
    expect(page.locator("h1")).to_have_text("report.pdf")
    first, second = page.locator("#page-1 pre"), page.locator("#page-2 pre")
    assert set(samples.KNOWN_WORDS) <= samples.words_in(first.inner_text())
    assert set(samples.SECOND_PAGE_WORDS) <= samples.words_in(second.inner_text())
    show_page_images(page)
    shoot(page, "task-detail", doc=True)

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download .txt").click()
    download = download_info.value
    assert download.suggested_filename == "report.txt"
    text = Path(download.path()).read_text(encoding="utf-8")
    assert set(samples.KNOWN_WORDS + samples.SECOND_PAGE_WORDS) <= samples.words_in(text)

    page.goto("/")
    page.get_by_role("link", name="receipt.png").click()
    expect(page.locator("pre")).to_contain_text("harbour")
    page.get_by_role("link", name="Delete").click()
    expect(page.locator("h1")).to_have_text("Delete task?")
    shoot(page, "task-delete")
    page.get_by_role("button", name="Delete").click()
    page.wait_for_url("/")
    expect(page.locator(".messages")).to_contain_text("Deleted “receipt.png”.")
    expect(page.locator("#task-table tbody tr")).to_have_count(1)
    expect(page.get_by_role("link", name="receipt.png")).to_have_count(0)


def stored_uploads(site: LiveSite) -> list[Path]:
    """Return the uploaded originals the live site holds."""
    uploads = site.var_dir / "media" / "uploads"
    return sorted(path for path in uploads.rglob("*") if path.is_file())


@pytest.mark.parametrize(
    ("locale", "heading", "lines"),
    [
        (
            "en-US",
            "Nothing was stored.",
            [
                "invoice.png — not stored because other files were refused",
                "notes.png — not stored: not a PNG, JPEG, TIFF, WebP, BMP or PDF file",
                "empty.png — not stored: file is empty.",
            ],
        ),
        (
            "zh-CN",
            "未保存任何文件。",
            [
                "invoice.png —— 未保存\N{FULLWIDTH COMMA}因为其他文件被拒绝",
                "notes.png —— 未保存\N{FULLWIDTH COLON}不是 PNG、JPEG、TIFF、WebP、BMP 或 PDF 文件",
                "empty.png —— 未保存\N{FULLWIDTH COLON}文件为空。",
            ],
        ),
    ],
    ids=["en", "zh-hans"],
)
def test_mixed_upload_says_every_file_was_not_stored(devices, live_site, locale, heading, lines):
    page = devices.new_page(locale=locale)
    image = samples.encode_image(samples.make_text_image(samples.KNOWN_WORDS), format="PNG")
    before = stored_uploads(live_site)
    log_in(page, "dana")

    page.goto("/tasks/upload/")
    page.set_input_files(
        "#id_file",
        [
            {"name": "invoice.png", "mimeType": "image/png", "buffer": image},
            {"name": "notes.png", "mimeType": "image/png", "buffer": b"plain text, not an image"},
            {"name": "empty.png", "mimeType": "image/png", "buffer": b""},
        ],
    )
    # The page itself refuses these before sending (test_browser_words); sent as a
    # browser without scripts sends them, the server's per-file answer is under test.
    with page.expect_response(re.compile(r"/tasks/upload/$")) as answer:
        page.evaluate("document.getElementById('upload-form').submit()")

    assert answer.value.status == 400
    refusal = page.locator("#not-stored")
    expect(refusal.locator("strong")).to_have_text(heading)
    items = refusal.locator("li")
    expect(items).to_have_count(3)
    for item, line in zip(items.all(), lines, strict=True):
        expect(item).to_contain_text(line)
    shoot(page, f"upload-refused-{locale}")
    page.goto("/")
    expect(page.locator("#no-tasks")).to_be_visible()
    assert stored_uploads(live_site) == before


def test_log_out_everywhere_ends_the_other_device_too(devices):
    laptop, phone = devices.new_page(), devices.new_page()
    log_in(laptop, "bob")
    log_in(phone, "bob")
    log_out_all = laptop.get_by_role("button", name="Log out everywhere")

    # Cancelling the confirmation changes nothing.
    laptop.once("dialog", lambda dialog: dialog.dismiss())
    log_out_all.click()
    laptop.reload()
    expect(laptop.locator(".whoami")).to_contain_text("bob")

    asked: list[str] = []

    def accept(dialog) -> None:
        asked.append(dialog.message)
        dialog.accept()

    laptop.once("dialog", accept)
    log_out_all.click()
    laptop.wait_for_url("/accounts/login/")
    assert asked == ["Log out of every session on every device?"]
    expect(laptop.locator(".messages")).to_contain_text("Logged out of 2 sessions.")
    shoot(laptop, "logged-out-everywhere")

    phone.reload()
    expect(phone).to_have_url(re.compile(r"/accounts/login/\?next=/$"))
    expect(phone.locator(".whoami")).to_have_count(0)


def test_staff_filter_and_export_the_audit_log(page):
    log_in(page, "staffer")
    page.get_by_role("link", name="Admin", exact=True).click()
    expect(page.locator("#site-name")).to_contain_text("OCR service administration")
    shoot(page, "admin-index")

    page.get_by_role("link", name="Audit events", exact=True).first.click()
    expect(page).to_have_url(re.compile(r"/admin/audit/auditevent/$"))
    shoot(page, "admin-audit-log", doc=True)

    filters = page.locator("#changelist-filter")
    filters.get_by_role("link", name="Sign-in auth_login", exact=True).click()
    expect(page).to_have_url(re.compile(r"[?&]event_type(__exact)?=auth_login"))
    filters.get_by_role("link", name="Today", exact=True).click()
    expect(page).to_have_url(re.compile(r"timestamp__gte="))
    expect(page).to_have_url(re.compile(r"[?&]event_type(__exact)?=auth_login"))
    event_types = page.locator("#result_list td.field-event code.event-code")
    expect(event_types.first).to_be_visible()
    assert set(event_types.all_inner_texts()) == {"auth_login"}
    shown = event_types.count()
    shoot(page, "admin-audit-log-filtered")

    page.locator("#action-toggle").check()
    page.locator("select[name=action]").select_option("export_csv")
    with page.expect_download() as download_info:
        page.locator("button[name=index]").click()
    download = download_info.value
    assert re.fullmatch(r"audit-\d{8}T\d{6}Z\.csv", download.suggested_filename)
    table = list(csv.reader(io.StringIO(Path(download.path()).read_text(encoding="utf-8"))))
    assert table[0] == list(EXPORT_COLUMNS)
    exported = [dict(zip(table[0], row, strict=True)) for row in table[1:]]
    assert len(exported) == shown
    assert {row["event_type"] for row in exported} == {"auth_login"}
    assert "staffer" in {row["username"] for row in exported}


def test_staff_dashboard_from_the_admin_index(devices):
    # A wrong password first: the login page says so, and the dashboard has a failure to show.
    intruder = devices.new_page()
    intruder.goto("/accounts/login/")
    intruder.fill("#id_username", "mallory")
    intruder.fill("#id_password", "not the password")
    intruder.locator("main form button[type=submit]").click()
    expect(intruder.locator("main [role=alert]")).to_be_visible()
    expect(intruder.locator(".whoami")).to_have_count(0)
    shoot(intruder, "login-failed")

    page = devices.new_page()
    log_in(page, "staffer")
    page.goto("/admin/")
    link = page.locator("#content a[href*='dashboard']")
    expect(link.first).to_be_visible()

    with page.expect_response(lambda response: response.request.is_navigation_request()) as nav:
        link.first.click()

    assert nav.value.status == 200
    expect(page.locator("main h1, #content h1").first).to_be_visible()
    shoot(page, "dashboard", doc=True)


def test_language_switcher_turns_the_interface_chinese(page):
    log_in(page, "chen")
    expect(page.locator("html")).to_have_attribute("lang", "en")

    # The switcher submits itself on change (site.js), through /i18n/setlang/ with CSRF.
    with page.expect_response(re.compile(r"/i18n/setlang/$")) as setlang:
        page.locator("#language").select_option("zh-hans")
    assert setlang.value.status == 302
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(page.locator("main h1")).to_have_text("我的任务")

    page.get_by_role("link", name="上传文档").first.click()
    expect(page.locator("main h1")).to_have_text("上传文档")
    image = samples.encode_image(samples.make_text_image(samples.KNOWN_WORDS), format="PNG")
    page.set_input_files("#id_file", {"name": "发票.png", "mimeType": "image/png", "buffer": image})
    shoot(page, "upload-zh-hans")
    page.get_by_role("button", name="上传并开始识别").click()
    page.wait_for_url("/")
    expect(page.locator(".messages")).to_contain_text("已将 1 个文档加入 OCR 队列。")
    page.wait_for_function(rows_done_js(1), timeout=OCR_TIMEOUT_MS)
    expect(page.locator("#task-table .badge.completed")).to_have_text("已完成")
    shoot(page, "tasks-zh-hans", doc=True)

    page.get_by_role("link", name="发票.png").click()
    expect(page.get_by_role("link", name="下载 .txt")).to_be_visible()
    expect(page.locator("pre")).to_contain_text("harbour")
    shoot(page, "task-detail-zh-hans")
