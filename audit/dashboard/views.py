"""The staff dashboard: audit activity, failed logins, OCR throughput and chain integrity.

Every figure comes from one aggregate query over an indexed column: audit events by
`timestamp` (alone or after `event_type`), so opening the page costs the same on a
trail of a thousand events or ten million. OCR throughput is read from the
task_complete events rather than OcrTask rows, because the trail keeps counting
tasks that users or the cleanup command have since deleted.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, FloatField, IntegerField, Q, Sum
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, TruncDate
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from ocr_project.common.permissions import staff_page

from ..events import Category, Outcome
from ..health import health_problems
from ..models import AuditEvent, ChainHead
from ..sealing.backlog import unsealed_backlog
from ..services import record_event
from ..verification.checkpoints import as_checkpoint, latest_checkpoint
from ..verification.verify import verify_chain
from .charts import Series, horizontal_bar_chart, stacked_bar_chart

TEMPLATE = "admin/audit/dashboard.html"
WINDOW_DAYS = 30
TOP_COUNT = 10
LOCKOUT_ROWS = 20
# Verifying the whole chain grows with the trail: the dashboard checks the newest events
# only, and keeps the verdict for a few minutes so reloading is free.
# `manage.py verify_audit_chain` checks everything.
VERIFY_NEWEST = 10_000
VERDICT_CACHE_KEY = "dashboard:chain-verdict"
VERDICT_CACHE_SECONDS = 300

# Okabe-Ito colours: distinguishable with the common colour-vision deficiencies.
CATEGORY_COLOURS = {
    Category.AUTHENTICATION: "#0072B2",
    Category.TASK: "#009E73",
    Category.FILE: "#E69F00",
    Category.ADMIN: "#CC79A7",
    Category.AUDIT: "#56B4E9",
    Category.ACCOUNT: "#F0E442",
}
COMPLETED_COLOUR = "#009E73"
FAILED_COLOUR = "#D55E00"
SPEED_COLOUR = "#0072B2"
# The failed-login charts sit side by side: a narrower drawing keeps their text legible.
PAIRED_CHART_WIDTH = 480


@dataclass(frozen=True)
class Window:
    """The days the dashboard covers, in the current time zone, oldest first."""

    days: list[date]
    since: datetime

    @classmethod
    def last(cls, days: int = WINDOW_DAYS) -> "Window":
        today = timezone.localdate()
        first = today - timedelta(days=days - 1)
        return cls(
            days=[first + timedelta(days=offset) for offset in range(days)],
            since=timezone.make_aware(datetime.combine(first, time.min)),
        )

    @property
    def labels(self) -> list[str]:
        return [day.strftime("%m-%d") for day in self.days]


def events_by_day_and_category(window: Window) -> dict[tuple[date, str], int]:
    """Return {(day, category): number of events} for the window."""
    rows = (
        AuditEvent.objects.filter(timestamp__gte=window.since)
        .annotate(day=TruncDate("timestamp"))
        .values("day", "category")
        .annotate(count=Count("pk"))
        .order_by()
    )
    return {(row["day"], row["category"]): row["count"] for row in rows}


def failed_logins_by(field: str, window: Window) -> list[tuple[str, int]]:
    """Return the TOP_COUNT values of `field` with the most failed logins in the window."""
    rows = (
        AuditEvent.objects.filter(
            event_type="auth_login", outcome=Outcome.FAILURE, timestamp__gte=window.since
        )
        .values(field)
        .annotate(count=Count("pk"))
        .order_by("-count", field)[:TOP_COUNT]
    )
    return [(row[field] or "", row["count"]) for row in rows]


def login_totals(window: Window) -> dict[str, int]:
    """Return the number of failed logins and of lockouts in the window."""
    return AuditEvent.objects.filter(
        event_type__in=["auth_login", "auth_lockout"], timestamp__gte=window.since
    ).aggregate(
        failed=Count("pk", filter=Q(event_type="auth_login", outcome=Outcome.FAILURE)),
        lockouts=Count("pk", filter=Q(event_type="auth_lockout")),
    )


def recent_lockouts(window: Window) -> list[dict[str, Any]]:
    """Return the newest lockouts in the window: when, who, from where, after how many."""
    # values() rows are plain dicts at run time; the stubs type them as a TypedDict.
    rows: list[dict[str, Any]] = list(
        AuditEvent.objects.filter(event_type="auth_lockout", timestamp__gte=window.since)  # type: ignore[arg-type]
        .order_by("-timestamp")
        .values("pk", "sequence", "timestamp", "username", "ip_address", "metadata")[:LOCKOUT_ROWS]
    )
    for row in rows:
        row["url"] = reverse("admin:audit_auditevent_change", args=[row["pk"]])
    return rows


def audit_list_url(window: Window, **filters: str) -> str:
    """Return the admin audit list filtered to the window and these filters."""
    # str(datetime) is the form the admin's date filter reads back: "2026-10-29 00:00:00+00:00".
    query = {**filters, "timestamp__gte": str(window.since)}
    return f"{reverse('admin:audit_auditevent_changelist')}?{urlencode(query)}"


def dashboard_links(window: Window) -> dict[str, str]:
    """Return the audit list URL behind each total on the dashboard."""
    failed = {"event_type__exact": "auth_login", "outcome__exact": Outcome.FAILURE.value}
    done = {"event_type__exact": "task_complete"}
    return {
        # Every event, reads of the log included, as the total counts them.
        "events": audit_list_url(window, reads="shown"),
        "failed_logins": audit_list_url(window, **failed),
        "lockouts": audit_list_url(window, event_type__exact="auth_lockout"),
        "tasks_completed": audit_list_url(window, **done, outcome__exact="success"),
        "tasks_failed": audit_list_url(window, **done, outcome__exact="failure"),
    }


def failed_login_links(window: Window, field: str, rows: list[tuple[str, int]]) -> list:
    """Return the audit list URL of each row's failed logins (None for a blank value)."""
    failed = {"event_type__exact": "auth_login", "outcome__exact": Outcome.FAILURE.value}
    # An address is found by the search box (exactly); a username by the user filter.
    parameter = "q" if field == "ip_address" else "username"
    return [
        audit_list_url(window, **failed, **{parameter: value}) if value else None
        for value, _ in rows
    ]


# Only the numbers the worker records are summed: a row written to the table directly
# may hold any text there, a 5,000-digit number say, whose cast PostgreSQL refuses (out of
# range), and the whole page answered 500. Such a row is named by verification.
PLAIN_SECONDS = r"^[0-9]{1,12}(\.[0-9]{1,20})?([eE][-+]?[0-9]{1,2})?$"
PLAIN_PAGES = r"^[0-9]{1,9}$"


def ocr_outcomes_by_day(window: Window) -> dict[tuple[date, str], dict[str, float]]:
    """Return {(day, outcome): {count, seconds, pages}} from the window's task_complete events."""
    rows = (
        AuditEvent.objects.filter(event_type="task_complete", timestamp__gte=window.since)
        .annotate(day=TruncDate("timestamp"))
        .values("day", "outcome")
        .annotate(
            count=Count("pk"),
            seconds=Sum(
                Cast(KT("metadata__seconds"), FloatField()),
                filter=Q(metadata__seconds__regex=PLAIN_SECONDS),
            ),
            pages=Sum(
                Cast(KT("metadata__pages"), IntegerField()),
                filter=Q(metadata__pages__regex=PLAIN_PAGES),
            ),
        )
        .order_by()
    )
    return {
        (row["day"], row["outcome"]): {
            "count": row["count"],
            "seconds": row["seconds"] or 0.0,
            "pages": row["pages"] or 0,
        }
        for row in rows
    }


def seconds_per_page(seconds: float, pages: float) -> float | None:
    return seconds / pages if pages else None


def chain_head() -> int:
    """Return the sequence of the newest event sealed into the chain (0 while empty)."""
    return ChainHead.objects.filter(pk=1).values_list("sequence", flat=True).first() or 0


def verify_newest_events() -> dict[str, Any]:
    """Verify the newest VERIFY_NEWEST events, and the last checkpoint."""
    head = chain_head()
    first = max(1, head - VERIFY_NEWEST + 1)
    checkpoint = None
    checkpoint_signature_ok = None
    record = latest_checkpoint()
    if record is not None:
        signed = as_checkpoint(record)
        checkpoint_signature_ok = signed.is_signed_correctly()
        # A checkpoint whose signature fails proves nothing; it is reported, not used.
        checkpoint = signed if checkpoint_signature_ok else None
    result = verify_chain(from_sequence=first, checkpoint=checkpoint)
    return {
        "ok": result.ok,
        "rows_checked": result.rows_checked,
        "first_sequence": result.first_sequence,
        "last_sequence": result.last_sequence,
        "first_bad_sequence": result.first_bad_sequence,
        "reason": result.reason,
        # Said in the reader's words when the chain holds and the checkpoint's row is
        # there to match (check_anchors' note ends "matches"); any other note, such as
        # "was pruned by audit_prune #n", is shown as verify_chain wrote it.
        "checkpoint_sequence": checkpoint.sequence if checkpoint is not None else None,
        "in_words": result.ok and (checkpoint is None or result.reason.endswith(" matches")),
        "head": head,
        "whole_chain": first == 1,
        "checkpoint_signature_ok": checkpoint_signature_ok,
        "checked_at": timezone.now(),
    }


PROBLEM_LABELS = {
    "future": gettext_lazy("Some events are stamped ahead of the clock and wait unsealed."),
    "backlog": gettext_lazy("No sealer is sealing: events wait longer than the window."),
    "sealer_lease": gettext_lazy("No sealer is running: its lease expired."),
    "checkpoint_signer": gettext_lazy("No automatic checkpoints are being signed."),
}


def sealing_backlog() -> dict[str, Any]:
    """Return the events not yet linked into the chain, whether the oldest is late, and
    what keeps events from the chain (audit/health.py: verify_audit_chain's exit 3).

    Read on every visit, not cached with the verdict: a sealer that died a minute ago
    must not hide behind a verdict five minutes old.
    """
    backlog = unsealed_backlog()
    return {
        "count": backlog.count,
        "oldest_seconds": backlog.oldest_seconds,
        "late": (backlog.oldest_seconds or 0) > settings.AUDIT_SEAL_WINDOW_SECONDS,
        "refused": backlog.refused,
        "window_seconds": settings.AUDIT_SEAL_WINDOW_SECONDS,
        # In the reader's words by kind, with the operator's English detail beside it.
        "problems": [
            {"label": PROBLEM_LABELS.get(problem.kind, ""), "detail": str(problem)}
            for problem in health_problems(backlog)
        ],
    }


def chain_verdict(*, refresh: bool = False) -> dict[str, Any]:
    """Return the cached verdict on the newest events, verifying again when stale or asked."""
    verdict = None if refresh else cache.get(VERDICT_CACHE_KEY)
    if verdict is None:
        verdict = verify_newest_events()
        cache.set(VERDICT_CACHE_KEY, verdict, VERDICT_CACHE_SECONDS)
    return verdict


def dashboard_context(*, refresh_verdict: bool = False) -> dict[str, Any]:
    """Return every figure and chart the dashboard shows."""
    window = Window.last()
    labels = window.labels

    by_category = events_by_day_and_category(window)
    categories = list(Category)
    event_series = [
        Series(
            name=str(category.label),
            colour=CATEGORY_COLOURS[category],
            values=[by_category.get((day, category.value), 0) for day in window.days],
        )
        for category in categories
    ]
    event_rows = [
        (day, [by_category.get((day, category.value), 0) for category in categories])
        for day in window.days
    ]

    by_ip = failed_logins_by("ip_address", window)
    by_username = failed_logins_by("username", window)
    ip_links = failed_login_links(window, "ip_address", by_ip)
    username_links = failed_login_links(window, "username", by_username)
    # Labelled once for the table and the chart: a failed login may lack either key.
    ip_rows = [(ip or _("unknown"), count) for ip, count in by_ip]
    username_rows = [(name or _("(blank)"), count) for name, count in by_username]
    totals = login_totals(window)

    outcomes = ocr_outcomes_by_day(window)
    empty = {"count": 0, "seconds": 0.0, "pages": 0}
    done = [outcomes.get((day, Outcome.SUCCESS.value), empty) for day in window.days]
    failed = [outcomes.get((day, Outcome.FAILURE.value), empty) for day in window.days]
    speeds = [seconds_per_page(row["seconds"], row["pages"]) for row in done]
    total_seconds = sum(row["seconds"] for row in done)
    total_pages = sum(row["pages"] for row in done)

    def seconds(value: float) -> str:
        return f"{value:.2f} s"

    verdict = chain_verdict(refresh=refresh_verdict)
    # A kept verdict counts the chain as it was (it read "60 events" beside 69 on the
    # trail): every sign-in, task and this very page adds events. Said, not hidden;
    # verifying again on every visit would undo what keeping the verdict saves.
    head = chain_head()
    return {
        "window_days": WINDOW_DAYS,
        "since": window.since,
        "top_count": TOP_COUNT,
        "totals": {
            "events": sum(by_category.values()),
            "failed_logins": totals["failed"],
            "lockouts": totals["lockouts"],
            "tasks_completed": sum(row["count"] for row in done),
            "tasks_failed": sum(row["count"] for row in failed),
            "seconds_per_page": seconds_per_page(total_seconds, total_pages),
        },
        "categories": [str(category.label) for category in categories],
        "event_rows": event_rows,
        "events_chart": stacked_bar_chart(
            chart_id="events",
            title=_("Audit events per day by category"),
            labels=labels,
            series=event_series,
            y_label=_("Events"),
            x_label=_("Day"),
            empty_text=_("No events in this period"),
        ),
        "links": dashboard_links(window),
        "failed_by_ip": [
            (label, count, link) for (label, count), link in zip(ip_rows, ip_links, strict=True)
        ],
        "failed_by_ip_chart": horizontal_bar_chart(
            chart_id="failed-ip",
            title=_("Failed logins by IP address"),
            rows=ip_rows,
            colour=FAILED_COLOUR,
            width=PAIRED_CHART_WIDTH,
            x_label=_("Failed logins"),
            empty_text=_("No failed logins"),
            links=ip_links,
        ),
        "failed_by_username": [
            (label, count, link)
            for (label, count), link in zip(username_rows, username_links, strict=True)
        ],
        "failed_by_username_chart": horizontal_bar_chart(
            chart_id="failed-username",
            title=_("Failed logins by username"),
            rows=username_rows,
            colour=FAILED_COLOUR,
            width=PAIRED_CHART_WIDTH,
            x_label=_("Failed logins"),
            empty_text=_("No failed logins"),
            links=username_links,
        ),
        "lockouts": recent_lockouts(window),
        "lockout_rows": LOCKOUT_ROWS,
        "task_rows": [
            (day, ok["count"], bad["count"], speed)
            for day, ok, bad, speed in zip(window.days, done, failed, speeds, strict=True)
        ],
        "tasks_chart": stacked_bar_chart(
            chart_id="tasks",
            title=_("OCR tasks finished per day"),
            labels=labels,
            series=[
                Series(_("Completed"), COMPLETED_COLOUR, [row["count"] for row in done]),
                Series(_("Failed"), FAILED_COLOUR, [row["count"] for row in failed]),
            ],
            y_label=_("Tasks"),
            x_label=_("Day"),
            empty_text=_("No tasks finished in this period"),
        ),
        "speed_chart": stacked_bar_chart(
            chart_id="speed",
            title=_("Mean seconds per page of completed tasks"),
            labels=labels,
            series=[Series(_("Seconds per page"), SPEED_COLOUR, [speed or 0 for speed in speeds])],
            y_label=_("Seconds per page"),
            x_label=_("Day"),
            value_format=seconds,
            height=220,
            empty_text=_("No pages read in this period"),
        ),
        "verdict": verdict,
        "chain_head": head,
        "sealed_since_verdict": max(0, head - verdict["head"]),
        "sealing": sealing_backlog(),
        "verify_newest": VERIFY_NEWEST,
        "verdict_cache_minutes": VERDICT_CACHE_SECONDS // 60,
        "checkpoint": latest_checkpoint(),
    }


@staff_page("audit.view_auditevent")
@require_GET
def dashboard(
    request: HttpRequest,
    *,
    template_name: str = TEMPLATE,
    extra_context: Callable[[HttpRequest], Mapping[str, Any]] | None = None,
) -> HttpResponse:
    """Show the staff dashboard, and record that the audit data was viewed.

    The admin site that serves the page may add sections from other apps: a template
    extending TEMPLATE, and `extra_context` for their figures, asked only once the
    visitor's permission is checked.
    """
    context = dashboard_context(refresh_verdict=request.GET.get("verify") == "1")
    if extra_context is not None:
        context.update(extra_context(request))
    record_event(
        event_type="audit_view",
        user=request.user,
        resource_type="dashboard",
        metadata={"surface": "dashboard", "window_days": WINDOW_DAYS},
    )
    return render(request, template_name, context)
