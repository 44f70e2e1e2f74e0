"""Django admin for the audit trail: read-only for everyone, superusers included."""

from contextlib import contextmanager, nullcontext
from datetime import datetime

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import DataError, NotSupportedError, OperationalError, connection, transaction
from django.db.models import Lookup, Q, QuerySet, Value
from django.db.models.sql.where import AND, WhereNode
from django.http import StreamingHttpResponse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _

from .admin_filters import READ_EVENT_TYPES, ReadsOfTheLogFilter, UsernameFilter
from .client import valid_ip
from .events import EVENT_CATEGORIES, RESOURCE_TYPES
from .export import csv_lines, rows
from .expressions import LAST_CHARACTER, FoldedUsername
from .models import AuditEvent, bound_by_sequence
from .services import record_event

# The message column shows this many characters; the change page shows it whole.
MESSAGE_CHARS = 80


def only_sequence_bounds(where: WhereNode) -> bool:
    """Return True when a query's WHERE is nothing but comparisons of the sequence.

    Sequence IS NOT NULL (sealed events only) counts as one: it holds for every number.
    """
    if where.negated or (where.connector != AND and len(where.children) > 1):
        return False
    for child in where.children:
        if isinstance(child, WhereNode):
            if not only_sequence_bounds(child):
                return False
        elif not (
            isinstance(child, Lookup)
            and getattr(getattr(child.lhs, "target", None), "name", None) == "sequence"
            and (
                child.lookup_name in ("gt", "gte", "lt", "lte")
                # "sealed" (get_queryset): every sequence number is a sealed event
                or (child.lookup_name == "isnull" and child.rhs is False)
            )
        ):
            return False
    return True


def is_reads_exclusion(node) -> bool:
    """Return True for the WHERE that ReadsOfTheLogFilter adds: NOT (event_type IN reads)."""
    if not (isinstance(node, WhereNode) and node.negated and len(node.children) == 1):
        return False
    [lookup] = node.children
    return (
        isinstance(lookup, Lookup)
        and lookup.lookup_name == "in"
        and getattr(getattr(lookup.lhs, "target", None), "name", None) == "event_type"
        and set(lookup.rhs) == set(READ_EVENT_TYPES)
    )


class EstimatedCountPaginator(Paginator):
    """A paginator that never runs COUNT(*) over the whole table.

    Unfiltered, or bounded only by sequence numbers (a date drill-down, see
    SequenceBoundChangeList), the count is the newest sequence number minus the oldest:
    exact, because the chain has no gaps (retention prunes only the oldest rows).
    The default listing hides reads of the log: its count is that minus the reads in
    the range, a range of the (event_type, sequence) index.
    Other filters fall back to a real count, which the indexes keep cheap.
    """

    object_list: QuerySet  # the admin's changelist always pages a queryset

    @cached_property
    def count(self) -> int:
        if self.is_whole_chain(allow_hidden_reads=True):
            newest, oldest = self.sequence_bounds()
            if newest is None or oldest is None:
                return 0
            whole = newest - oldest + 1
            if self.is_whole_chain():
                return whole
            reads = self.object_list.model.objects.filter(
                event_type__in=READ_EVENT_TYPES, sequence__gte=oldest, sequence__lte=newest
            )
            return whole - reads.count()
        return super().count

    def is_whole_chain(self, *, allow_hidden_reads: bool = False) -> bool:
        """Return True for the listing of every event in a sequence range, newest first."""
        query = self.object_list.query
        newest_first = bool(query.order_by) and query.order_by[0] == "-sequence"
        where = query.where
        if allow_hidden_reads and any(is_reads_exclusion(child) for child in where.children):
            where = where.clone()
            where.children = [child for child in where.children if not is_reads_exclusion(child)]
        return newest_first and only_sequence_bounds(where)

    @cached_property
    def _bounds(self) -> tuple[int | None, int | None]:
        # With reads hidden, the newest and oldest events shown: every read between them
        # is subtracted by count, none outside them is in the range.
        sequences = self.object_list.values_list("sequence", flat=True)
        newest = sequences.order_by("-sequence").first()
        oldest = sequences.order_by("sequence").first()
        return newest, oldest

    def sequence_bounds(self) -> tuple[int | None, int | None]:
        return self._bounds

    def page(self, number):
        """Return a page; deep pages of the whole chain are a sequence range, not OFFSET.

        Sequence numbers have no gaps (the chain forbids them), so page n of the
        newest-first listing starts at newest - (n - 1) * per_page: an index seek
        instead of skipping n * per_page rows. With reads hidden, pages are OFFSET.
        """
        number = self.validate_number(number)
        if not self.is_whole_chain():
            return super().page(number)
        newest, _ = self.sequence_bounds()
        top = newest - (number - 1) * self.per_page
        rows = self.object_list.filter(sequence__lte=top)[: self.per_page]
        return self._get_page(rows, number, self)


class SequenceBoundChangeList(ChangeList):
    """The changelist with the date hierarchy's time range applied as a sequence range.

    Django turns ?timestamp__year=..&timestamp__month=.. into a timestamp range, which
    the newest-first listing can only meet by walking the sequence index and discarding
    rows outside the month (0.8 s on SQLite at a million rows). The same range as
    sequence numbers (audit.models.first_sequence_at_or_after) is an index range scan.
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
        return specs, has_filters, lookup_params, duplicates, active

    def get_queryset(self, request, exclude_parameters=None):
        with refused_filter_values():
            queryset = super().get_queryset(request, exclude_parameters)
            return bound_by_sequence(queryset, self.sequence_bounds)

    def get_results(self, request):
        # Run the listing's queries here rather than in the template, so a value the
        # database cannot take surfaces while the admin can still answer it.
        with refused_filter_values():
            super().get_results(request)
            self.result_list = list(self.result_list)


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


class TimestampListFilter(admin.DateFieldListFilter):
    """The sidebar's "Today / Past 7 days / This month / This year", as sequence ranges."""

    def queryset(self, request, queryset):
        bounds = {}
        for lookup in ("gte", "lt"):
            values = self.used_parameters.get(f"{self.field_path}__{lookup}")
            if values:
                bounds[lookup] = values[-1] if isinstance(values, list) else values
        try:
            return bound_by_sequence(queryset, bounds)
        except (ValueError, OverflowError, ValidationError) as error:
            raise IncorrectLookupParameters(error) from error


class EventTypeFilter(admin.SimpleListFilter):
    """Event types from the vocabulary in audit.events, not SELECT DISTINCT over the table."""

    title = _("event type")
    parameter_name = "event_type__exact"

    def lookups(self, request, model_admin):
        return [(name, name) for name in EVENT_CATEGORIES]

    def queryset(self, request, queryset):
        return queryset.filter(event_type=self.value()) if self.value() else queryset


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = (
        "timestamp",
        "event_type",
        "outcome",
        "username",
        "ip_address",
        "resource_type",
        "resource_id",
        "short_message",
    )
    list_filter = (
        ReadsOfTheLogFilter,
        UsernameFilter,
        EventTypeFilter,
        "category",
        "outcome",
        ("timestamp", TimestampListFilter),
    )
    # Searched exactly (get_search_results): the admin's own "=" lookups are
    # case-insensitive, which no index answers at a million rows.
    search_fields = ("username", "ip_address", "resource_id", "request_id")
    search_help_text = _(
        "Start of a username (any case), or an exact IP address, resource id or request id."
    )
    date_hierarchy = "timestamp"
    ordering = ("-sequence",)
    show_full_result_count = False
    # "Show counts" runs one COUNT per filter choice over the listing: 8.4 s on SQLite at
    # a million rows. Totals per type and day are on the staff dashboard instead.
    show_facets = admin.ShowFacets.NEVER
    paginator = EstimatedCountPaginator
    list_per_page = 100
    actions = ["export_csv"]
    readonly_fields = [field.name for field in AuditEvent._meta.fields]

    def get_changelist(self, request, **kwargs):
        return SequenceBoundChangeList

    def get_queryset(self, request):
        # Sealed events only, as in the API and exports: an unsealed row is anyone's
        # INSERT until the sealer has linked it (within AUDIT_SEAL_WINDOW_SECONDS).
        return super().get_queryset(request).filter(sequence__isnull=False)

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        # Usernames by case-insensitive prefix ("ali" finds "Alice"), as a range of the
        # audit_username_folded index; the other keys exactly, each by its own index.
        queryset = queryset.alias(folded_username=FoldedUsername("username"))
        match = Q(
            folded_username__gte=FoldedUsername(Value(term)),
            folded_username__lt=FoldedUsername(Value(term + LAST_CHARACTER)),
        )
        exact = [Q(request_id=term), Q(resource_type__in=RESOURCE_TYPES, resource_id=term)]
        address = valid_ip(term)
        if address:
            exact.append(Q(ip_address=address))
        # Only exact keys that occur join the OR: each check is one index lookup, and a
        # username search stays a single range the index covers (an OR of index scans
        # reads every matching row: 10 s instead of 0.5 s for 75,000 matches at 1M rows).
        for key in exact:
            if AuditEvent.objects.filter(key).exists():
                match |= key
        return queryset.filter(match), False

    @admin.display(description=_("message"), ordering=None)
    def short_message(self, event: AuditEvent) -> str:
        return Truncator(event.message).chars(MESSAGE_CHARS)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_actions(self, request, action_location=admin.ActionLocation.CHANGE_LIST):
        actions = super().get_actions(request, action_location=action_location)
        # Bulk delete would bypass the chain; refuse it outright.
        actions.pop("delete_selected", None)
        return actions

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        if request.method == "GET" and getattr(response, "status_code", 200) == 200:
            record_event(
                event_type="audit_view",
                user=request.user,
                request=request,
                resource_type="audit_log",
                metadata={"surface": "admin", "filters": dict(request.GET.items())},
            )
        return response

    @admin.action(description=_("Export selected events as CSV"), permissions=["view"])
    def export_csv(self, request, queryset):
        record_event(
            event_type="audit_export",
            user=request.user,
            request=request,
            resource_type="audit_log",
            metadata={"surface": "admin", "format": "csv", "filters": dict(request.GET.items())},
        )
        stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
        response = StreamingHttpResponse(
            csv_lines(rows(queryset.order_by("-sequence"))), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="audit-{stamp}.csv"'
        return response
