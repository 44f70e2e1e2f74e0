"""The audit changelist answers from indexes: no DISTINCT scans, no OFFSET on deep pages."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.db.models import Count, Max, Min
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from audit.admin.queries import admin_events, period_starts
from audit.models import AuditEvent
from audit.services import record_event
from audit.tests.fixtures import drain_sealer

URL = "/admin/audit/auditevent/"


@pytest.fixture(params=["read", "walk"])
def events(request, db, monkeypatch):
    """Seven events spread over three months of two years.

    Each test runs twice: with the few matching events read outright, and with the
    index walks audit.admin_queries uses when there are many (FEW_EVENTS = 0).
    """
    # Requested before admin_client in each test: timestamps never run backwards along
    # the chain, so these must be recorded before the (real-time) admin login.
    stamps = [
        datetime(2025, 12, 30, 10, tzinfo=UTC),
        datetime(2026, 1, 5, 9, tzinfo=UTC),
        datetime(2026, 1, 5, 23, tzinfo=UTC),
        datetime(2026, 1, 20, 8, tzinfo=UTC),
        datetime(2026, 3, 1, 0, tzinfo=UTC),
        datetime(2026, 3, 31, 23, 59, tzinfo=UTC),
        datetime(2026, 3, 31, 23, 59, 30, tzinfo=UTC),
    ]
    clock = iter(stamps)
    monkeypatch.setattr("audit.services.timezone.now", lambda: next(clock))
    # Inline, linked at once: the locked design stamps with the application clock set
    # here (background sealing on PostgreSQL stamps with the database's).
    with override_settings(AUDIT_SEALING="inline"):
        for number in range(len(stamps)):
            record_event(event_type="auth_login", username=f"user{number}", resource_type="user")
    monkeypatch.undo()
    if request.param == "walk":
        monkeypatch.setattr("audit.admin.queries.FEW_EVENTS", 0)
    return stamps


def uncapped_counts(queries) -> list[str]:
    """Return the COUNT queries that could read the whole table (no LIMIT inside).

    The count of the reads of the log the default listing hides reads only their range
    of the (event_type, sequence) index, not the table; the count of events not sealed
    yet reads only those (a few), by the index on sequence or the partial audit_unsealed.
    """
    reads_only = """WHERE ("audit_auditevent"."event_type" IN ('audit_view', 'audit_export')"""
    unsealed_only = """"audit_auditevent"."sequence" IS NULL"""
    return [
        q["sql"]
        for q in queries.captured_queries
        if "COUNT(" in q["sql"].upper()
        and "LIMIT" not in q["sql"]
        and reads_only not in q["sql"]
        and not q["sql"].rstrip(")").endswith(unsealed_only)
    ]


def test_period_starts_match_djangos_distinct_dates(events):
    queryset = AuditEvent.objects.all()
    for kind in ("year", "month", "day"):
        expected = list(AuditEvent.objects.all().order_by().values_list("timestamp", flat=True))
        truncated = sorted({truncate(stamp, kind) for stamp in expected})
        assert period_starts(queryset, kind=kind, descending=False, tz=UTC) == truncated


def truncate(stamp: datetime, kind: str) -> datetime:
    stamp = stamp.replace(hour=0, minute=0, second=0, microsecond=0)
    if kind in ("month", "year"):
        stamp = stamp.replace(day=1)
    if kind == "year":
        stamp = stamp.replace(month=1)
    return stamp


def test_date_hierarchy_links_come_without_a_distinct_scan(events, admin_client):
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(URL, {"timestamp__year": "2026"})

    assert response.status_code == 200
    text = response.content.decode()
    assert "timestamp__month=1" in text and "timestamp__month=3" in text
    assert "timestamp__month=2" not in text  # no events in February
    assert not [q for q in queries.captured_queries if "DISTINCT" in q["sql"].upper()]


def test_event_type_filter_lists_the_vocabulary_without_querying(events, admin_client):
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(URL)

    assert "event_type__exact=auth_lockout" in response.content.decode()
    assert not [q for q in queries.captured_queries if "DISTINCT" in q["sql"].upper()]
    assert uncapped_counts(queries) == []


def test_deep_pages_of_the_whole_chain_seek_by_sequence(events, admin_client, monkeypatch):
    monkeypatch.setattr("audit.admin.event_admin.AuditEventAdmin.list_per_page", 2)
    admin_client.get("/admin/")  # log in (recorded) before counting what is there
    drain_sealer()
    newest_first = list(AuditEvent.objects.order_by("-sequence").values_list("sequence", flat=True))

    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(URL, {"p": "3", "reads": "shown"})

    shown = [event.sequence for event in response.context["cl"].result_list]
    assert shown == newest_first[4:6]
    assert not [q for q in queries.captured_queries if " OFFSET " in q["sql"].upper()]


def test_search_finds_username_prefixes_in_any_case_and_other_keys_exactly(events, admin_client):
    event = AuditEvent.objects.get(username="user2")

    by_name = admin_client.get(URL, {"q": "USER2"}).context["cl"].result_list
    by_request = admin_client.get(URL, {"q": event.request_id or "none"}).context["cl"]
    prefix = admin_client.get(URL, {"q": "Use"}).context["cl"].result_list
    inside = admin_client.get(URL, {"q": "ser"}).context["cl"].result_list

    assert [row.pk for row in by_name] == [event.pk]
    assert by_request.result_list is not None
    assert sorted(row.username for row in prefix) == [f"user{n}" for n in range(7)]
    assert list(inside) == []


def test_period_starts_of_a_filtered_list_match_djangos_distinct_dates(events):
    record_event(event_type="auth_logout", username="someone", resource_type="user")
    queryset = AuditEvent.objects.filter(username__in=["user0", "user3", "user6"])
    stamps = list(queryset.order_by().values_list("timestamp", flat=True))
    for kind in ("year", "month", "day"):
        truncated = sorted({truncate(stamp, kind) for stamp in stamps})
        assert period_starts(queryset, kind=kind, descending=False, tz=UTC) == truncated
        assert period_starts(queryset, kind=kind, descending=True, tz=UTC) == truncated[::-1]
    assert period_starts(AuditEvent.objects.none(), kind="day", descending=False, tz=UTC) == []


def test_min_and_max_timestamp_come_from_the_ends_of_the_chain(events):
    events_in_admin = admin_events(AuditEvent.objects.all())
    filtered = events_in_admin.filter(username__in=["user1", "user4"])

    with CaptureQueriesContext(connection) as queries:
        whole = events_in_admin.aggregate(first=Min("timestamp"), last=Max("timestamp"))
        some = filtered.aggregate(first=Min("timestamp"), last=Max("timestamp"))
        nothing = events_in_admin.none().aggregate(first=Min("timestamp"))

    assert whole == {"first": events[0], "last": events[-1]}
    assert some == {"first": events[1], "last": events[4]}
    assert nothing == {"first": None}
    assert not [q for q in queries.captured_queries if "MIN(" in q["sql"].upper()]
    # Anything else is still an ordinary aggregate.
    assert events_in_admin.aggregate(n=Count("pk"), top=Max("sequence")) == {"n": 7, "top": 7}


def test_only_the_admin_queryset_answers_from_the_chain(events):
    # Everyone else gets Django's own aggregate and datetimes, whatever they ask.
    with CaptureQueriesContext(connection) as queries:
        whole = AuditEvent.objects.aggregate(first=Min("timestamp"), last=Max("timestamp"))
        months = list(AuditEvent.objects.datetimes("timestamp", "month", tzinfo=UTC))

    assert whole == {"first": events[0], "last": events[-1]}
    assert months == [
        datetime(2025, 12, 1, tzinfo=UTC),
        datetime(2026, 1, 1, tzinfo=UTC),
        datetime(2026, 3, 1, tzinfo=UTC),
    ]
    sql = [q["sql"].upper() for q in queries.captured_queries]
    assert len(sql) == 2 and "MIN(" in sql[0] and "DISTINCT" in sql[1]


@pytest.mark.parametrize(
    "params",
    [
        {"timestamp__year": "2026"},
        {"timestamp__year": "2026", "timestamp__month": "1"},
        {"timestamp__year": "2026", "timestamp__month": "1", "timestamp__day": "5"},
        {"timestamp__year": "2026", "timestamp__month": "2"},
        {"timestamp__year": "2024"},
        {
            "timestamp__gte": "2026-01-01 00:00:00+00:00",
            "timestamp__lt": "2026-02-01 00:00:00+00:00",
        },
        {"timestamp__gte": "2026-03-01 00:00:00+00:00"},
        {"timestamp__lt": "2026-01-05 23:00:00+00:00"},
    ],
)
def test_date_drill_downs_list_exactly_the_events_of_the_period(events, admin_client, params):
    lower = params.get("timestamp__gte") or drill_start(params)
    upper = params.get("timestamp__lt") or drill_end(params)
    drain_sealer()  # the admin's login, linked as the sealer's round would
    in_period = AuditEvent.objects.exclude(event_type="audit_view")
    if lower:
        in_period = in_period.filter(timestamp__gte=lower)
    if upper:
        in_period = in_period.filter(timestamp__lt=upper)
    expected = list(in_period.order_by("-sequence").values_list("sequence", flat=True))

    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(URL, params)

    assert response.status_code == 200
    changelist = response.context["cl"]
    shown = [e.sequence for e in changelist.result_list if e.event_type != "audit_view"]
    assert shown == expected
    assert changelist.result_count == len(changelist.result_list)
    # The listing and its count read sequence ranges, never a timestamp range or a full
    # COUNT(*).
    listing = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].startswith('SELECT "audit_auditevent"."id"')
    ]
    assert listing and not [sql for sql in listing if "timestamp" in sql.split("WHERE")[-1]]
    assert uncapped_counts(queries) == []


def drill_start(params: dict) -> datetime | None:
    if "timestamp__year" not in params:
        return None
    return datetime(
        int(params["timestamp__year"]),
        int(params.get("timestamp__month", 1)),
        int(params.get("timestamp__day", 1)),
        tzinfo=UTC,
    )


def drill_end(params: dict) -> datetime | None:
    start = drill_start(params)
    if start is None:
        return None
    if "timestamp__day" in params:
        return start + timedelta(days=1)
    if "timestamp__month" in params:
        return (start + timedelta(days=32)).replace(day=1)
    return start.replace(year=start.year + 1)


def test_a_drill_down_keeps_other_filters_and_counts_them(events, admin_client):
    params = {"timestamp__year": "2026", "timestamp__month": "3", "q": "user5"}

    changelist = admin_client.get(URL, params).context["cl"]

    assert [e.username for e in changelist.result_list] == ["user5"]
    assert changelist.result_count == 1


def test_junk_dates_are_refused_like_any_bad_admin_filter(events, admin_client):
    for params in (
        {"timestamp__gte": "junk"},
        {"timestamp__year": "2026", "timestamp__month": "13"},
    ):
        response = admin_client.get(URL, params)
        assert response.status_code == 302
        assert response["Location"].endswith("?e=1")


@pytest.mark.django_db
def test_a_search_that_matches_little_reads_its_rows_instead_of_walking_the_chain(admin_client):
    # ORDER BY sequence LIMIT 1 under a filter no index orders walks the whole sequence
    # index when nothing matches (0.45 s per walk at a million rows on PostgreSQL).
    for number in range(5):
        record_event(event_type="auth_login", username=f"user{number}", resource_type="user")
    drain_sealer()

    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(URL, {"q": "nobody"})

    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == []
    walks = [
        q["sql"]
        for q in queries.captured_queries
        if "'nobody'" in q["sql"]
        and "ORDER BY" in q["sql"]
        and q["sql"].rstrip().endswith("LIMIT 1")
    ]
    assert walks == []


def test_filter_counts_are_never_offered_or_computed(events, admin_client):
    # One COUNT per filter choice over the whole table is seconds at a million rows.
    offered = admin_client.get(URL).content.decode()
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(URL, {"_facets": "True"})

    assert "_facets" not in offered
    assert response.status_code == 200
    assert uncapped_counts(queries) == []


@pytest.mark.parametrize(
    ("params", "matches"),
    [
        ({"category": "task"}, lambda event: event.category == "task"),
        ({"outcome": "failure"}, lambda event: event.outcome == "failure"),
        ({"username": "bob"}, lambda event: event.username == "bob"),
        ({"event_type__exact": "task_create"}, lambda event: event.event_type == "task_create"),
        # A lookup typed into the URL that no sidebar filter takes.
        ({"event_type": "task_create"}, lambda event: event.event_type == "task_create"),
        ({"q": "bob"}, lambda event: event.username == "bob"),
        ({"timestamp__year": "2026", "outcome": "failure"}, lambda e: e.outcome == "failure"),
    ],
)
def test_a_filtered_listing_counts_and_pages_only_what_it_lists(
    admin_client, monkeypatch, params, matches
):
    # Paged two at a time with reads shown: counting or seeking by sequence numbers
    # (right for a range of the chain) would count and list events the filter left out.
    monkeypatch.setattr("audit.admin.event_admin.AuditEventAdmin.list_per_page", 2)
    for number in range(4):
        record_event(event_type="task_create", username="bob", resource_type="task")
        record_event(event_type="auth_login", outcome="failure", username="eve")
        record_event(event_type="auth_login", username=f"user{number}")
    drain_sealer()
    newest_first = AuditEvent.objects.order_by("-sequence")
    expected = [event.sequence for event in newest_first if matches(event)]

    response = admin_client.get(URL, {**params, "reads": "shown", "p": "2"})

    changelist = response.context["cl"]
    assert changelist.result_count == len(expected)
    assert [event.sequence for event in changelist.result_list] == expected[2:4]


def test_a_listing_sorted_by_another_column_pages_in_that_order(admin_client, monkeypatch):
    monkeypatch.setattr("audit.admin.event_admin.AuditEventAdmin.list_per_page", 2)
    for number in range(3):
        record_event(event_type="task_create", username="bob", resource_type="task")
        record_event(event_type="auth_login", username=f"user{number}")
    drain_sealer()
    # The column's position in the listing (after the action checkbox) sorts by it.
    oldest_first = str(admin_client.get(URL).context["cl"].list_display.index("timestamp"))
    drain_sealer()  # that page view's audit_view, linked
    expected = list(
        AuditEvent.objects.order_by("timestamp", "-sequence").values_list("sequence", flat=True)
    )

    response = admin_client.get(URL, {"o": oldest_first, "reads": "shown", "p": "2"})

    changelist = response.context["cl"]
    assert changelist.result_count == len(expected)
    assert [event.sequence for event in changelist.result_list] == expected[2:4]


def test_the_default_listing_counts_and_pages_without_the_reads_between_events(
    admin_client, monkeypatch
):
    monkeypatch.setattr("audit.admin.event_admin.AuditEventAdmin.list_per_page", 2)
    for number in range(4):
        record_event(event_type="auth_login", username=f"user{number}")
        record_event(event_type="audit_view", username="staff", resource_type="audit_log")
        record_event(event_type="audit_export", username="staff", resource_type="audit_log")
    drain_sealer()
    expected = list(
        AuditEvent.objects.exclude(event_type__in=["audit_view", "audit_export"])
        .order_by("-sequence")
        .values_list("sequence", flat=True)
    )

    response = admin_client.get(URL, {"p": "2"})

    changelist = response.context["cl"]
    assert changelist.result_count == len(expected)
    assert [event.sequence for event in changelist.result_list] == expected[2:4]


@pytest.mark.parametrize("reads", ["hidden", "shown"])
def test_events_the_sealer_has_not_linked_yet_are_neither_listed_nor_counted(
    admin_client, monkeypatch, settings, reads
):
    # Between a write and the sealer's next round an event has no sequence number yet:
    # anyone's INSERT until the sealer has checked and linked it, so the admin lists
    # sealed events only, as the API and exports do. The count and the pages agree.
    monkeypatch.setattr("audit.admin.event_admin.AuditEventAdmin.list_per_page", 2)
    for number in range(3):
        record_event(event_type="auth_login", username=f"sealed{number}")
    drain_sealer()  # a sealer round: these are linked, the next three wait for the next
    for number in range(3):
        record_event(event_type="auth_login", username=f"unsealed{number}")
    assert AuditEvent.objects.filter(sequence__isnull=True).count() == 3
    params = {"reads": "shown"} if reads == "shown" else {}
    listed = AuditEvent.objects.filter(sequence__isnull=False)
    if reads == "hidden":
        listed = listed.exclude(event_type__in=["audit_view", "audit_export"])
    expected = set(listed.values_list("pk", flat=True))

    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(URL, params)

    changelist = response.context["cl"]
    assert changelist.result_count == len(expected)
    assert len(changelist.result_list) == 2
    assert uncapped_counts(queries) == []
    if reads == "hidden":
        # Page by page, every event once (each page view adds only a hidden read).
        pages = (len(expected) + 1) // 2
        seen = [
            event.pk
            for number in range(1, pages + 1)
            for event in admin_client.get(URL, {"p": str(number)}).context["cl"].result_list
        ]
        assert sorted(seen) == sorted(expected)


def bobs_tasks(count: int) -> list[int | None]:
    """Record `count` task_create events of bob; return their sequence numbers, newest first."""
    for _ in range(count):
        record_event(event_type="task_create", username="bob", resource_type="task")
    drain_sealer()
    return list(
        AuditEvent.objects.filter(username="bob")
        .order_by("-sequence")
        .values_list("sequence", flat=True)
    )


def test_a_filtered_listing_counts_no_further_than_the_cap_and_says_so(admin_client, monkeypatch):
    # Counting every match of a filter reads every match (0.5-0.8 s for one event type
    # or one busy user at 10M rows); past the cap the page says "more than".
    monkeypatch.setattr("audit.admin.event_admin.AuditEventAdmin.list_per_page", 2)
    monkeypatch.setattr("audit.admin.queries.COUNT_CAP", 4)
    newest = bobs_tasks(6)

    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(URL, {"username": "bob", "p": "2"})

    changelist = response.context["cl"]
    page = response.content.decode()
    assert changelist.result_count == 4
    assert changelist.paginator.capped
    assert changelist.paginator.num_pages == 2
    assert [event.sequence for event in changelist.result_list] == newest[2:4]
    assert "More than 4 audit events" in page
    assert "Select all 4 audit events" not in page
    assert uncapped_counts(queries) == []


def test_a_filtered_listing_under_the_cap_counts_exactly(admin_client, monkeypatch):
    monkeypatch.setattr("audit.admin.queries.COUNT_CAP", 4)
    bobs_tasks(4)

    response = admin_client.get(URL, {"username": "bob"})

    assert response.context["cl"].result_count == 4
    assert not response.context["cl"].paginator.capped
    assert "4 audit events" in response.content.decode()
    assert "More than" not in response.content.decode()


def test_a_search_past_the_cap_says_more_than(admin_client, monkeypatch):
    monkeypatch.setattr("audit.admin.queries.COUNT_CAP", 2)
    bobs_tasks(3)

    page = admin_client.get(URL, {"q": "bob"}).content.decode()

    assert "More than 2 results" in page
    assert "Show all" not in page
    assert "Select all 2+ audit events" in page
    assert "All matching audit events selected" in page


@pytest.mark.parametrize(
    "params",
    [
        {"username": ""},  # the user filter submitted empty
        {"event_type__exact": ""},
        {"o": "1"},  # sorted by another column: the count does not depend on the order
        {"o": "-1", "username": ""},
    ],
)
def test_a_listing_with_no_real_filter_counts_the_whole_chain_exactly(
    admin_client, monkeypatch, params
):
    # Found by the review of the cap: these listed everything but counted it as
    # "more than 4; narrow the filters", with no filter to narrow.
    monkeypatch.setattr("audit.admin.queries.COUNT_CAP", 4)
    for number in range(6):
        record_event(event_type="auth_login", username=f"user{number}")
    drain_sealer()
    listed = AuditEvent.objects.exclude(event_type__in=["audit_view", "audit_export"])

    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(URL, params)

    changelist = response.context["cl"]
    assert not changelist.paginator.capped
    assert changelist.result_count == listed.count()
    assert "More than" not in response.content.decode()
    assert uncapped_counts(queries) == []


def test_a_page_past_a_capped_count_shows_the_last_page_it_offers(admin_client, monkeypatch):
    # Without this, ?p=3 of a listing capped at two pages was Django's silent redirect
    # to the whole, unfiltered list (?e=1).
    monkeypatch.setattr("audit.admin.event_admin.AuditEventAdmin.list_per_page", 2)
    monkeypatch.setattr("audit.admin.queries.COUNT_CAP", 4)
    newest = bobs_tasks(7)

    response = admin_client.get(URL, {"username": "bob", "p": "3"})

    assert response.status_code == 200
    assert response.context["cl"].page_num == 2
    assert [event.sequence for event in response.context["cl"].result_list] == newest[2:4]
