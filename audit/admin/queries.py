"""How the audit admin's changelist reads a million events without scanning them.

Django's changelist asks its queryset for things that are cheap on a small table and
slow on a large one: COUNT(*), MIN/MAX(timestamp) and SELECT DISTINCT over truncated
timestamps for the date hierarchy, and OFFSET for deep pages. Here each is answered from
the sequence index instead. Only the admin uses these: its get_queryset returns an
AdminEventQuerySet, and the default manager keeps Django's plain behaviour.
"""

from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.admin import SimpleListFilter
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.core.paginator import EmptyPage, Paginator
from django.db import DataError, NotSupportedError, OperationalError, connection, transaction
from django.db.models import F, Max, Min, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.functional import cached_property

from ..api.time_bounds import bound_by_sequence, first_sequence_at_or_after
from ..models import AuditEvent, AuditEventQuerySet
from .filters import READ_EVENT_TYPES, ReadsOfTheLogFilter, TimestampListFilter

# Up to this many matching events, their timestamps are read outright. Finding the
# first or last of a few events scattered over millions by walking the sequence index
# (ORDER BY sequence LIMIT 1, which both databases choose for a filter no index orders)
# reads the whole index when they are rare or absent (docs/benchmark-notes.md).
FEW_EVENTS = 2000
# A filtered listing counts at most this many events (a hundred pages). Counting every
# match reads every match: one event type or one busy user is 0.5-0.8 s at 10M rows
# (docs/scale.md). Past it the page says "more than"; narrowing the filter pages further.
COUNT_CAP = 10_000


def next_period(start: datetime, kind: str) -> datetime:
    """Return the start of the year, month or day after the one starting at ``start``."""
    if kind == "day":
        return (start + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    if kind == "month":
        return (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    return start.replace(year=start.year + 1, month=1, day=1)


def period_start(moment: datetime, kind: str) -> datetime:
    """Return the start of the year, month or day that ``moment`` falls in."""
    start = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if kind in ("month", "year"):
        start = start.replace(day=1)
    if kind == "year":
        start = start.replace(month=1)
    return start


def few_timestamps(queryset: QuerySet) -> list[datetime] | None:
    """Return the queryset's timestamps if it has at most FEW_EVENTS events, else None."""
    unordered = queryset.order_by()
    # A capped count: it stops at FEW_EVENTS + 1 rows however many match.
    if unordered[: FEW_EVENTS + 1].count() > FEW_EVENTS:
        return None
    return list(unordered.values_list("timestamp", flat=True))


def timestamp_extremes(queryset: QuerySet) -> tuple[datetime | None, datetime | None]:
    """Return the first and last timestamps of the queryset's events."""
    stamps = few_timestamps(queryset)
    if stamps is not None:
        return min(stamps, default=None), max(stamps, default=None)
    return sequence_end_timestamps(queryset)


def sequence_end_timestamps(queryset: QuerySet) -> tuple[datetime | None, datetime | None]:
    """Return the timestamps of the queryset's first and last events by sequence.

    Timestamps never run backwards along the chain, so these are its extremes. Meant for
    querysets with many events: the walks along the sequence index meet one soon.
    """
    events = queryset.values_list("timestamp", flat=True)
    return events.order_by("sequence").first(), events.order_by("-sequence").first()


def period_starts(queryset: QuerySet, *, kind: str, descending: bool, tz) -> list[datetime]:
    """Return the starts of the periods (in ``tz``) in which the queryset has events.

    A few events: from their timestamps. Many: walks from event to event instead of
    scanning: the first event of the queryset gives the first period; the first event at
    or after the next period's start (a sequence bound, see first_sequence_at_or_after)
    gives the next. Two index lookups per period that has events, none for empty ones.
    """
    tz = tz or timezone.get_current_timezone()
    stamps = few_timestamps(queryset)
    if stamps is not None:
        found = sorted({period_start(stamp.astimezone(tz), kind) for stamp in stamps})
        return found[::-1] if descending else found
    events = queryset.order_by("sequence").values_list("timestamp", flat=True)
    found = []
    stamp, last = sequence_end_timestamps(queryset)
    while stamp is not None:
        start = period_start(stamp.astimezone(tz), kind)
        found.append(start)
        following = next_period(start, kind)
        if last is None or following > last:
            break
        boundary = first_sequence_at_or_after(following)
        if boundary is None:
            break
        # The event at the boundary itself, by equality: SQLite uses only one of several
        # lower bounds on a column, and the admin's date hierarchy already put one there.
        stamp = events.filter(sequence=boundary).first()
        if stamp is None:
            stamp = events.filter(sequence__gte=boundary).first()
    return found[::-1] if descending else found


def is_plain_timestamp_extreme(aggregate) -> bool:
    """Return True for Min("timestamp") or Max("timestamp") with no filter or default."""
    if type(aggregate) not in (Min, Max) or aggregate.filter is not None:
        return False
    if getattr(aggregate, "default", None) is not None:
        return False
    source = aggregate.get_source_expressions()[0]
    # django-stubs omit F.name, which F.__init__ sets.
    return isinstance(source, F) and source.name == "timestamp"  # type: ignore[attr-defined]


class AdminEventQuerySet(AuditEventQuerySet):
    """The admin changelist's events: its date hierarchy answered by index lookups."""

    def datetimes(self, field_name, kind, order="ASC", tzinfo=None):
        """Return the distinct years, months or days that have events, by index lookups.

        The admin's date hierarchy asks for these; Django's SELECT DISTINCT over a
        truncated timestamp reads every matching row (seconds at a million rows).
        period_starts gives the same answer with two index lookups per period.
        """
        if field_name != "timestamp" or kind not in ("year", "month", "day"):
            return super().datetimes(field_name, kind, order, tzinfo)
        return period_starts(self, kind=kind, descending=order == "DESC", tz=tzinfo)

    def aggregate(self, *args, **kwargs):
        """Answer MIN/MAX(timestamp) from the ends of the sequence order.

        The admin's date hierarchy asks for both in one query, which SQLite answers by
        reading the whole timestamp index (0.4 s at a million rows) and which no index
        answers once the list is filtered. timestamp_extremes reads them from the ends
        of the sequence order, or from the timestamps themselves when there are few.
        """
        if args or not kwargs or not all(is_plain_timestamp_extreme(a) for a in kwargs.values()):
            return super().aggregate(*args, **kwargs)
        first, last = timestamp_extremes(self)
        return {
            alias: first if type(aggregate) is Min else last for alias, aggregate in kwargs.items()
        }


def admin_events(queryset: QuerySet[AuditEvent]) -> AdminEventQuerySet:
    """Return the same query as an AdminEventQuerySet."""
    return AdminEventQuerySet(model=queryset.model, query=queryset.query.chain(), using=queryset.db)


@dataclass(frozen=True)
class ChainRange:
    """What a changelist applied: nothing but sequence bounds, in some order.

    Its listing is then every event in a range of the chain, less the reads of the log
    when ``hides_reads`` (ReadsOfTheLogFilter's default); ``newest_first`` when it is in
    the chain's own order, so pages can be sought by sequence number.
    """

    hides_reads: bool
    newest_first: bool = True


# Where the changelist leaves its ChainRange (or None) for the admin's paginator.
CHAIN_RANGE_ATTRIBUTE = "audit_chain_range"


def chain_range_of(request: HttpRequest) -> ChainRange | None:
    """Return the ChainRange the request's changelist applied, or None."""
    return getattr(request, CHAIN_RANGE_ATTRIBUTE, None)


class EstimatedCountPaginator(Paginator):
    """A paginator that never runs COUNT(*) over the whole table.

    For a listing of a range of the chain (``chain_range``: unfiltered, or bounded only
    by a date drill-down, see SequenceBoundChangeList), the count is the newest sequence
    number minus the oldest: exact, because the chain has no gaps (retention prunes only
    the oldest rows). With the reads of the log hidden, the count is that minus the
    reads in the range, a range of the (event_type, sequence) index.
    Other filters count up to COUNT_CAP and set ``capped`` when there are more.
    """

    object_list: QuerySet  # the admin's changelist always pages a queryset

    def __init__(
        self,
        object_list,
        per_page,
        orphans=0,
        allow_empty_first_page=True,
        *,
        chain_range: ChainRange | None = None,
    ) -> None:
        super().__init__(object_list, per_page, orphans, allow_empty_first_page)
        self.chain_range = chain_range
        self.capped = False

    @cached_property
    def count(self) -> int:
        if self.chain_range is not None:
            return self.sealed_count
        # COUNT over a LIMIT subquery: it stops reading at COUNT_CAP + 1 rows.
        found = self.object_list.order_by()[: COUNT_CAP + 1].count()
        self.capped = found > COUNT_CAP
        return min(found, COUNT_CAP)

    def validate_number(self, number):
        try:
            return super().validate_number(number)
        except EmptyPage:
            # Past the pages a capped count offers (typed into the URL): the last of them,
            # rather than Django's redirect to the whole, unfiltered list (?e=1).
            if self.capped and int(number) > self.num_pages:
                return self.num_pages
            raise

    @cached_property
    def sealed_count(self) -> int:
        """Return how many events the range lists (the admin lists sealed events only)."""
        newest, oldest = self.sequence_bounds
        if newest is None or oldest is None:
            return 0
        whole = newest - oldest + 1
        if not self.chain_range or not self.chain_range.hides_reads:
            return whole
        reads = AuditEvent.objects.filter(
            event_type__in=READ_EVENT_TYPES, sequence__gte=oldest, sequence__lte=newest
        )
        return whole - reads.count()

    @cached_property
    def sequence_bounds(self) -> tuple[int | None, int | None]:
        """Return the newest and oldest sequence numbers listed.

        With reads hidden, of the newest and oldest events shown: every read between
        them is subtracted by count, none outside them is in the range.
        """
        sequences = self.object_list.filter(sequence__isnull=False).values_list(
            "sequence", flat=True
        )
        newest = sequences.order_by("-sequence").first()
        oldest = sequences.order_by("sequence").first()
        return newest, oldest

    def page(self, number):
        """Return a page; deep pages of a range of the chain are a sequence range, not OFFSET.

        Sequence numbers have no gaps (the chain forbids them), so page n of the
        newest-first listing starts at newest - (n - 1) * per_page: an index seek
        instead of skipping n * per_page rows. With reads hidden, or in another order,
        pages are OFFSET.
        """
        number = self.validate_number(number)
        listed = self.chain_range
        if listed is None or listed.hides_reads or not listed.newest_first:
            return super().page(number)
        newest, _ = self.sequence_bounds
        if newest is None:
            return super().page(number)
        top = newest - (number - 1) * self.per_page
        rows = self.object_list.filter(sequence__lte=top)[: self.per_page]
        return self._get_page(rows, number, self)


class SequenceBoundChangeList(ChangeList):
    """The changelist with the date hierarchy's time range applied as a sequence range.

    Django turns ?timestamp__year=..&timestamp__month=.. into a timestamp range, which
    the newest-first listing can only meet by walking the sequence index and discarding
    rows outside the month (0.8 s on SQLite at a million rows). The same range as
    sequence numbers (audit.api.time_bounds.first_sequence_at_or_after) is an index range
    scan. It also tells the paginator, through the request, when its listing is a range
    of the chain (ChainRange), so the count needs no COUNT(*).
    """

    def get_filters(self, request):
        specs, has_filters, lookup_params, duplicates, active = super().get_filters(request)
        self.sequence_bounds = {}
        field = self.date_hierarchy
        for lookup in ("gte", "lt"):
            values = lookup_params.get(f"{field}__{lookup}")
            # Only the date hierarchy puts datetimes here; anything else is left to Django.
            if values and all(isinstance(value, datetime) for value in values):
                del lookup_params[f"{field}__{lookup}"]
                self.sequence_bounds[lookup] = values[-1]
        # Lookups typed into the URL that no filter took (?event_type=..., ?metadata__...).
        self.other_lookups = bool(lookup_params)
        return specs, has_filters, lookup_params, duplicates, active

    def get_queryset(self, request, exclude_parameters=None):
        with refused_filter_values():
            queryset = super().get_queryset(request, exclude_parameters)
            queryset = bound_by_sequence(queryset, self.sequence_bounds)
        if exclude_parameters is None:
            setattr(request, CHAIN_RANGE_ATTRIBUTE, self.chain_range(request))
        return queryset

    def chain_range(self, request) -> ChainRange | None:
        """Return the ChainRange this listing applied, or None if it filtered otherwise."""
        if self.other_lookups or self.query.strip():
            return None
        hides_reads = False
        for spec in self.filter_specs:
            if isinstance(spec, ReadsOfTheLogFilter):
                hides_reads = spec.value() != "shown"
            elif isinstance(spec, TimestampListFilter):
                continue
            elif isinstance(spec, SimpleListFilter):
                # Submitted empty (the user box left blank), it filters nothing.
                if spec.value():
                    return None
            elif spec.used_parameters:
                return None
        newest_first = self.get_ordering(request, self.root_queryset)[:1] == ["-sequence"]
        return ChainRange(hides_reads=hides_reads, newest_first=newest_first)

    def get_results(self, request):
        # Run the listing's queries here rather than in the template, so a value the
        # database cannot take surfaces while the admin can still answer it.
        with refused_filter_values():
            super().get_results(request)
            self.result_list = list(self.result_list)
        # The page shown, where a page past a capped count was turned into its last.
        if self.multi_page:
            self.page_num = self.paginator.validate_number(self.page_num)


# SQLite's answers to a filter value it cannot take, as opposed to a database in
# trouble ("database is locked", "disk I/O error"), which stays a server error.
SQLITE_REFUSALS = (
    "user-defined function raised exception",
    "Expression tree is too large",
    "too many SQL variables",
    "parser stack overflow",
    "LIKE or GLOB pattern too complex",
)


@contextmanager
def refused_filter_values():
    """Turn a filter value the database cannot take into the admin's own "Database error".

    Staff may type any lookup into the URL (the admin allows lookups on local fields):
    a date that overflows when converted to UTC, a year past any integer column, a
    lookup SQLite lacks (metadata__contains) or a regex SQLite's function refuses.
    IncorrectLookupParameters makes the admin show the list again with its message.
    """
    savepoint = transaction.atomic() if connection.in_atomic_block else nullcontext()
    try:
        with savepoint:
            yield
    except (OverflowError, ValueError, DataError, NotSupportedError) as error:
        raise IncorrectLookupParameters(error) from error
    except OperationalError as error:
        # SQLite's REGEXP and date functions are Python: their exceptions arrive as this.
        # Its parser's limits too: ?metadata__has_keys=aaaa… makes a lookup per character.
        if not any(message in str(error) for message in SQLITE_REFUSALS):
            raise
        raise IncorrectLookupParameters(error) from error
