"""The staff dashboard: who may open it, the figures it shows, its SVG and its audit record."""

import re
import uuid
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from django.core.cache import cache
from django.db import connection
from django.template.loader import render_to_string
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains

from audit.dashboard.charts import TEMPLATE as CHART
from audit.dashboard.charts import Series, horizontal_bar_chart, nice_ticks, stacked_bar_chart
from audit.dashboard.views import VERDICT_CACHE_KEY
from audit.events import Outcome
from audit.models import AuditEvent
from audit.recording.client import ClientContext
from audit.services import record_event
from audit.tests import tamper
from audit.tests.fixtures import drain_sealer
from audit.verification.checkpoints import create_checkpoint

DASHBOARD = "/admin/dashboard/"
ATTACKER_IP = "198.51.100.7"
OTHER_IP = "198.51.100.8"

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_cached_verdict():
    # The verdict lives in the database cache, whose table outlives transactional tests.
    cache.delete(VERDICT_CACHE_KEY)


def failed_login(username: str, ip: str) -> None:
    record_event(
        event_type="auth_login",
        outcome=Outcome.FAILURE,
        username=username,
        client=ClientContext(ip_address=ip),
        resource_type="user",
        metadata={"method": "session", "reason": "invalid_credentials"},
    )


def task_complete(owner, *, outcome: str, pages: int, seconds: float) -> None:
    """Record task_complete as the worker does when it finishes a task.

    No task row stands behind the event, as after its owner or the cleanup deleted it:
    the dashboard counts from the trail alone.
    """
    record_event(
        event_type="task_complete",
        outcome=outcome,
        user=owner,
        resource_type="task",
        resource_id=str(uuid.uuid4()),
        metadata={"pages": pages, "page_count": pages, "seconds": seconds},
    )


def dashboard_views() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(event_type="audit_view", resource_type="dashboard"))


def test_staff_see_the_figures_of_the_last_30_days(make_user, client_for, monkeypatch):
    # Forty days ago: outside the window, so counted nowhere. First, because the chain
    # never stamps an event earlier than the one before it.
    long_ago = timezone.now() - timedelta(days=40)
    # Inline: the locked design stamps with the application clock patched here
    # (background sealing on PostgreSQL stamps with the database's).
    with monkeypatch.context() as patched, override_settings(AUDIT_SEALING="inline"):
        patched.setattr(timezone, "now", lambda: long_ago)
        failed_login("old-attempt", OTHER_IP)
    staff = make_user(username="staffer", superuser=True)
    user = make_user(username="alice")
    user.email = "alice@example.org"
    user.save()  # an account change: one user_update event of today
    staff_client = client_for(staff)  # its login is one authentication event of today
    for _ in range(3):
        failed_login("mallory", ATTACKER_IP)
    failed_login("bob", OTHER_IP)
    record_event(event_type="auth_login", user=user, resource_type="user")
    record_event(
        event_type="auth_lockout",
        outcome=Outcome.FAILURE,
        username="mallory",
        client=ClientContext(ip_address=ATTACKER_IP),
        resource_type="user",
        metadata={"failures": 5},
    )
    task_complete(user, outcome=Outcome.SUCCESS, pages=2, seconds=3.0)
    task_complete(user, outcome=Outcome.SUCCESS, pages=1, seconds=1.5)
    task_complete(user, outcome=Outcome.FAILURE, pages=0, seconds=0.2)
    drain_sealer()

    response = staff_client.get(DASHBOARD)

    assert response.status_code == 200
    assert figure(response, "total-failed-logins") == "4"
    assert figure(response, "total-lockouts") == "1"
    assert figure(response, "total-tasks-completed") == "2"
    assert figure(response, "total-tasks-failed") == "1"
    # 4.5 seconds over 3 pages of completed tasks.
    assertContains(response, '<dd id="total-seconds-per-page">1.50</dd>', html=True)
    html = response.content.decode()
    assert table_rows(html, "failed-ip-table") == [[ATTACKER_IP, "3"], [OTHER_IP, "1"]]
    assert table_rows(html, "failed-username-table") == [["mallory", "3"], ["bob", "1"]]
    [lockout] = table_rows(html, "lockouts-table")
    assert lockout[1:4] == ["mallory", ATTACKER_IP, "5"]
    today = timezone.localdate().isoformat()
    # Categories in order: authentication, task, file, admin, audit, account.
    # The staff login and six seeded authentication events; three task_complete events;
    # one account change.
    assert table_rows(html, "events-table")[-1] == [today, "7", "3", "0", "0", "0", "1"]
    assert table_rows(html, "tasks-table")[-1] == [today, "2", "1", "1.50"]
    assert "old-attempt" not in html


def figure(response, dd_id: str) -> str:
    """Return the text of the total with `dd_id` (a link to its events)."""
    found = re.search(rf'<dd id="{dd_id}">(.*?)</dd>', response.content.decode(), re.S)
    assert found, f"total {dd_id} is on the page"
    return re.sub(r"<[^>]+>", "", found.group(1)).strip()


def table_rows(html: str, table_id: str) -> list[list[str]]:
    """Return the text of each body row's cells of the table with `table_id`."""
    table = re.search(rf'<table[^>]*id="{table_id}".*?</table>', html, re.S)
    assert table, f"table {table_id} is on the page"
    rows = re.search(r"<tbody>(.*?)</tbody>", table.group(0), re.S)
    assert rows, f"table {table_id} has a body"
    body = rows.group(1)
    return [
        [
            re.sub(r"<[^>]+>", "", cell).strip()
            for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
        ]
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]


def test_each_open_records_one_audit_view(staff_client, staff):
    staff_client.get(DASHBOARD)
    staff_client.get(DASHBOARD)

    views = dashboard_views()
    assert len(views) == 2
    assert {(view.username, view.category, view.outcome) for view in views} == {
        ("staffer", "audit", "success")
    }
    assert views[0].metadata == {"surface": "dashboard", "window_days": 30}
    assert views[0].ip_address == "203.0.113.7"


def test_non_staff_are_sent_to_the_admin_login(user, client_for):
    response = client_for(user).get(DASHBOARD)

    assert response.status_code == 302
    assert response["Location"] == f"/admin/login/?next={DASHBOARD}"
    assert dashboard_views() == []


def test_anonymous_are_sent_to_log_in():
    response = Client().get(DASHBOARD)

    assert response.status_code == 302
    assert response["Location"] == f"/admin/login/?next={DASHBOARD}"
    assert dashboard_views() == []


def test_charts_are_inline_svg_without_inline_styles(staff_client):
    failed_login("mallory", ATTACKER_IP)

    html = staff_client.get(DASHBOARD).content.decode()

    assert html.count("<svg") == 5
    assert re.search(r'<rect [^>]*fill="#[0-9A-Fa-f]{6}"><title>[^<]*mallory: 1</title>', html)
    # style-src has no 'unsafe-inline': no style attributes, no <style> elements.
    assert not re.search(r"<[^>]+\sstyle\s*=", html, re.I)
    assert not re.search(r"<style[\s>]", html, re.I)


def test_a_chart_whose_bars_are_links_is_a_group_the_others_images(staff_client):
    # Assistive technology hides an image's content: links inside one could be focused
    # but not named (axe's nested-interactive). The failed-login bars link to the events.
    failed_login("mallory", ATTACKER_IP)

    html = staff_client.get(DASHBOARD).content.decode()

    roles = {
        chart: role
        for role, chart in re.findall(
            r'<svg [^>]*role="(\w+)" aria-labelledby="([\w-]+)-title', html
        )
    }
    assert roles == {
        "events": "img",
        "failed-ip": "group",
        "failed-username": "group",
        "tasks": "img",
        "speed": "img",
    }


HOSTILE = ['<script>alert("x")</script>', '"><svg onload=alert(1)>']


class SvgParts(HTMLParser):
    """Collect the elements, attribute names and text of markup, entities decoded."""

    def __init__(self, markup: str) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attributes: set[str] = set()
        self.texts: list[str] = []
        self.feed(markup)

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes.update(name for name, _ in attrs)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)

    def handle_data(self, data):
        self.texts.append(data)


def test_labels_from_the_trail_are_escaped(staff_client):
    for username in HOSTILE:
        failed_login(username, ATTACKER_IP)

    response = staff_client.get(DASHBOARD)

    assertNotContains(response, '<script>alert("x")')
    assertNotContains(response, "<svg onload")
    assertContains(response, "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;")
    [chart] = re.findall(
        r'<svg[^>]*aria-labelledby="failed-username-title.*?</svg>', response.text, re.S
    )
    parts = SvgParts(chart)
    assert parts.tags.count("svg") == 1
    assert "onload" not in parts.attributes
    assert all(any(text.startswith(label) for text in parts.texts) for label in HOSTILE)


def test_a_hostile_label_or_name_stays_text_in_every_part_of_a_chart():
    bars = stacked_bar_chart(
        chart_id="hostile",
        title=HOSTILE[0],
        labels=HOSTILE,
        series=[Series(HOSTILE[0], "#000000", [1, 2]), Series(HOSTILE[1], "#111111", [3, 4])],
        y_label=HOSTILE[1],
        x_label=HOSTILE[0],
    )
    rows = horizontal_bar_chart(
        chart_id="rows",
        title=HOSTILE[1],
        rows=[(label, 1) for label in HOSTILE],
        colour="#D55E00",
        x_label=HOSTILE[0],
        links=['/admin/?q="><script>', None],
    )

    for chart in (bars, rows):
        parts = SvgParts(render_to_string(CHART, {"chart": chart}))
        # Title, description, legend, axis and bar labels, tooltips: text, never markup.
        assert set(parts.tags) <= {"svg", "title", "desc", "line", "rect", "text", "a"}
        assert parts.tags.count("svg") == 1
        assert not any(name.startswith("on") for name in parts.attributes)
        assert all(any(text.startswith(label) for text in parts.texts) for label in HOSTILE)


def test_query_count_does_not_grow_with_the_trail(staff_client, user):
    failed_login("mallory", ATTACKER_IP)
    with CaptureQueriesContext(connection) as few:
        staff_client.get(DASHBOARD)
    for number in range(40):
        failed_login(f"user{number}", f"198.51.100.{number + 10}")
        record_event(event_type="auth_login", user=user, resource_type="user")
    cache.delete(VERDICT_CACHE_KEY)
    with CaptureQueriesContext(connection) as many:
        staff_client.get(DASHBOARD)

    assert len(many.captured_queries) == len(few.captured_queries)


def test_admin_index_links_to_the_dashboard(staff_client):
    response = staff_client.get("/admin/")

    assertContains(response, f'<a href="{DASHBOARD}">Staff dashboard</a>', html=True)


def test_admin_index_hides_the_dashboard_from_staff_without_the_permission(make_user, client_for):
    plain_staff = make_user(username="plainstaff", staff=True)

    response = client_for(plain_staff).get("/admin/")

    assert response.status_code == 200
    assertNotContains(response, DASHBOARD)


def test_chain_verdict_is_cached_and_can_be_refreshed(staff_client, user):
    for _ in range(3):
        record_event(event_type="auth_login", user=user, resource_type="user")

    drain_sealer()
    first = staff_client.get(DASHBOARD)
    assertContains(
        first, '<span class="badge completed" id="chain-status">Intact</span>', html=True
    )
    assertContains(first, "Checked the whole chain")

    tamper.raw_sql("UPDATE {table} SET username = %s WHERE sequence = %s", ["eve", 2])
    cached = staff_client.get(DASHBOARD)
    refreshed = staff_client.get(DASHBOARD + "?verify=1")

    # Within the cache lifetime the page says when its verdict was reached...
    assertContains(cached, "Intact")
    assertContains(cached, "the verdict is kept for 5 minutes")
    # ...and "Verify again now" reaches a fresh one.
    assertContains(refreshed, "Broken")
    assertContains(refreshed, "First bad event: #2.")


def test_a_kept_verdict_says_how_many_events_the_chain_gained_since(staff_client, user):
    record_event(event_type="auth_login", user=user, resource_type="user")
    drain_sealer()
    first = staff_client.get(DASHBOARD)
    assertNotContains(first, 'id="chain-since"')
    # The staff sign-in and one event are in the kept verdict; the first visit's own
    # audit_view and eight sign-ins come after it (it read "60 events" beside 69).
    for _ in range(8):
        record_event(event_type="auth_login", user=user, resource_type="user")

    drain_sealer()
    kept = staff_client.get(DASHBOARD)
    drain_sealer()
    refreshed = staff_client.get(DASHBOARD + "?verify=1")
    drain_sealer()
    chinese = staff_client.get(DASHBOARD, HTTP_ACCEPT_LANGUAGE="zh-hans")

    assertContains(kept, "Checked the whole chain, 2 events (#1–#2)")  # noqa: RUF001
    assertContains(
        kept,
        "Since then 9 more events were sealed into the chain (now #11); "
        "they are not in this verdict.",
    )
    assertNotContains(refreshed, 'id="chain-since"')
    assertContains(refreshed, "Checked the whole chain, 12 events (#1–#12)")  # noqa: RUF001
    # The refreshed visit's own audit_view comes after the verdict it reached.
    assertContains(chinese, "此后又有 1 个事件封入链中（现为 #13），不在本次结果之内。")  # noqa: RUF001


def test_the_chain_notes_are_whole_sentences_in_chinese(staff_client, user):
    record_event(event_type="auth_login", user=user, resource_type="user")

    drain_sealer()
    page = staff_client.get(DASHBOARD, HTTP_ACCEPT_LANGUAGE="zh-hans").text

    found = re.search(r'<p class="muted" id="chain-scope">(.*?)</p>', page, re.S)
    assert found, "the page says what was checked"
    scope = found.group(1)
    # One translated sentence holds the count, the range, the time and how long it is kept.
    checked = r"已于 .+ 校验整条链：\d+ 个事件（#1–#\d+）；结果保留 5 分钟。"  # noqa: RUF001
    assert re.search(checked, scope)
    assert "运行 <code>python manage.py verify_audit_chain</code> 以校验全部事件。" in scope
    make_one = "尚无检查点。创建命令：<code>python manage.py audit_checkpoint</code>。"  # noqa: RUF001
    assert make_one in page


def test_last_checkpoint_is_shown(staff_client, user):
    assertContains(staff_client.get(DASHBOARD), "No checkpoint yet.")
    record_event(event_type="auth_login", user=user, resource_type="user")
    drain_sealer()
    made = create_checkpoint()

    response = staff_client.get(DASHBOARD + "?verify=1")

    assertContains(response, f"Event #{made.sequence}, signed")
    assertContains(response, f"Signed checkpoint #{made.sequence} matches.")
    assertNotContains(response, "signature does not match")


@pytest.mark.parametrize(
    ("maximum", "ticks"),
    [
        (0, [0, 1]),
        (3, [0, 1, 2, 3]),
        (7, [0, 2, 4, 6, 8]),
        (1833, [0, 500, 1000, 1500, 2000]),
        (0.9, [0, 0.25, 0.5, 0.75, 1.0]),
    ],
)
def test_axis_ticks_are_round_numbers_covering_the_maximum(maximum, ticks):
    assert nice_ticks(maximum) == ticks


@pytest.mark.parametrize(
    ("maximum", "ticks"),
    [(1, [0, 1]), (2, [0, 1, 2]), (3, [0, 1, 2, 3]), (9, [0, 5, 10]), (90, [0, 25, 50, 75, 100])],
)
def test_count_axes_tick_whole_numbers_only(maximum, ticks):
    assert nice_ticks(maximum, whole=True) == ticks


def test_failed_login_chart_of_one_attempt_ticks_no_fraction_of_a_login():
    # One failed login: the reviewer saw ticks 0, 0.25, 0.5, 0.75, 1 under the bar.
    chart = horizontal_bar_chart(
        chart_id="failed-ip", title="Failed", rows=[("198.51.100.7", 1)], colour="#c00", x_label="n"
    )
    ticks = [t.content for t in chart.texts if t.css == "tick"]
    assert ticks == ["0", "1"]
    # Seconds per page keep their fractions.
    speed = stacked_bar_chart(
        chart_id="speed",
        title="Speed",
        labels=["Mon"],
        series=[Series("s", "#00c", [0.9])],
        y_label="s",
        x_label="day",
        value_format=lambda value: f"{value:.2f}",
    )
    assert "0.25" in [t.content for t in speed.texts if t.css == "tick"]


def links_of(html: str, table_id: str) -> dict[str, str]:
    """Return {link text: URL} of the links in the table with `table_id`."""
    match = re.search(rf'<table[^>]*id="{table_id}".*?</table>', html, re.S)
    assert match is not None, f"no table #{table_id} on the page"
    table = match.group(0)
    return {
        text: href.replace("&amp;", "&")
        for href, text in re.findall(r'<a href="([^"]+)">([^<]+)</a>', table)
    }


def test_figures_link_to_the_matching_events_in_the_audit_list(staff_client):
    for _ in range(2):
        failed_login("mallory", ATTACKER_IP)
    failed_login("bob", OTHER_IP)
    record_event(event_type="auth_login", username="mallory", resource_type="user")
    drain_sealer()
    page = staff_client.get(DASHBOARD).content.decode()

    by_username = links_of(page, "failed-username-table")
    by_ip = links_of(page, "failed-ip-table")
    listed = staff_client.get(by_username["mallory"]).context["cl"].result_list
    from_ip = staff_client.get(by_ip[ATTACKER_IP]).context["cl"].result_list
    total = re.search(r'<dd id="total-failed-logins"><a href="([^"]+)">', page).group(1)
    all_failed = staff_client.get(total.replace("&amp;", "&")).context["cl"].result_list

    assert [(e.username, e.outcome) for e in listed] == [("mallory", "failure")] * 2
    assert [e.ip_address for e in from_ip] == [ATTACKER_IP] * 2
    assert sorted(e.username for e in all_failed) == ["bob", "mallory", "mallory"]


def test_an_intact_chain_is_said_in_chinese(staff_client):
    from audit.services import record_event

    record_event(event_type="auth_login", username="alice")
    drain_sealer()
    html = staff_client.get(
        "/admin/dashboard/", {"verify": "1"}, HTTP_ACCEPT_LANGUAGE="zh-hans"
    ).content.decode()
    reason = html.split('id="chain-reason">', 1)[1].split("</span>", 1)[0]
    assert reason.startswith("链完整。")
    assert "intact" not in reason
