"""Django admin for the audit trail: read-only for everyone, superusers included."""

from typing import Any

from django.contrib import admin
from django.contrib.admin import helpers
from django.core.exceptions import ValidationError
from django.db.models import Q, Value
from django.http import StreamingHttpResponse
from django.utils import formats, timezone
from django.utils.html import format_html
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _

from ..api.export import csv_lines, rows
from ..api.networks import in_network, parse_network
from ..events import EVENT_CATEGORIES, RESOURCE_TYPES, event_label
from ..expressions import LAST_CHARACTER, FoldedUsername
from ..models import AuditEvent
from ..recording.client import valid_ip
from ..sealing.refusals import parse_tag, parse_timestamp
from ..services import record_event
from .audited import AuditedChangelistAdmin, AuditedObjectAdmin
from .filters import (
    IpAddressFilter,
    ReadsOfTheLogFilter,
    TimestampListFilter,
    UsernameFilter,
)
from .queries import (
    EstimatedCountPaginator,
    SequenceBoundChangeList,
    admin_events,
    chain_range_of,
)

# The message column shows this many characters; the change page shows it whole.
MESSAGE_CHARS = 80


class EventTypeFilter(admin.SimpleListFilter):
    """Event types from the vocabulary in audit.events, not SELECT DISTINCT over the table."""

    title = _("event type")
    parameter_name = "event_type__exact"

    def lookups(self, request, model_admin):
        # The label people read, with the code the parameter and the export keep.
        return [
            (name, format_html("{} <code>{}</code>", event_label(name), name))
            for name in EVENT_CATEGORIES
        ]

    def queryset(self, request, queryset):
        return queryset.filter(event_type=self.value()) if self.value() else queryset


@admin.register(AuditEvent)
class AuditEventAdmin(AuditedObjectAdmin, AuditedChangelistAdmin):
    list_display = (
        "timestamp",
        "event",
        "outcome",
        "username",
        "ip_address",
        "resource",
        "short_message",
    )
    list_filter = (
        ReadsOfTheLogFilter,
        UsernameFilter,
        IpAddressFilter,
        EventTypeFilter,
        "category",
        "outcome",
        ("timestamp", TimestampListFilter),
    )
    # Searched exactly (get_search_results): the admin's own "=" lookups are
    # case-insensitive, which no index answers at a million rows.
    search_fields = ("username", "ip_address", "resource_id", "request_id")
    search_help_text = _(
        "Start of a username (any case), an IP address, prefix (10.1.) or range "
        "(10.1.0.0/16), or an exact resource id or request id."
    )
    date_hierarchy = "timestamp"
    ordering = ("-sequence",)
    show_full_result_count = False
    # "Show counts" runs one COUNT per filter choice over the whole listing (seconds at a
    # million rows; docs/benchmark-notes.md). Totals per type and day are on the dashboard.
    show_facets = admin.ShowFacets.NEVER
    paginator = EstimatedCountPaginator
    list_per_page = 100
    actions = ["export_csv"]
    # "event" first: the type in words beside its code, then every other stored field
    # (the bare event_type again would be a second row of the same name). The writer
    # MAC's clock reads like every other time on the page (writer_mac_shown).
    readonly_fields = [
        "event",
        *(
            "writer_mac_shown" if field.name == "writer_mac" else field.name
            for field in AuditEvent._meta.fields
            if field.name != "event_type"
        ),
    ]
    exclude = ["event_type"]
    # Reading the trail is recorded too, once per page view: the list, and one event's
    # change page (every field, hashes and MACs) or history page.
    changelist_event = "audit_view"
    changelist_resource_type = "audit_log"
    object_event = "audit_view"
    object_resource_type = "audit_event"

    def get_queryset(self, request):
        # Sealed events only, as in the API and exports: an unsealed row is anyone's
        # INSERT until the sealer has linked it (within AUDIT_SEAL_WINDOW_SECONDS).
        return admin_events(super().get_queryset(request).filter(sequence__isnull=False))

    def object_metadata(self, obj: AuditEvent) -> dict[str, Any]:
        return {"sequence": obj.sequence}

    def get_changelist(self, request, **kwargs):
        return SequenceBoundChangeList

    def get_paginator(self, request, queryset, per_page, orphans=0, allow_empty_first_page=True):
        return self.paginator(
            queryset,
            per_page,
            orphans,
            allow_empty_first_page,
            chain_range=chain_range_of(request),
        )

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
        if "/" in term or term.endswith("."):
            # A range ("10.1.", "10.1.0.0/16"): the addresses in it, nothing else.
            try:
                return in_network(queryset, parse_network(term)), False
            except ValidationError:
                pass
        address = valid_ip(term)
        if address:
            exact.append(Q(ip_address=address))
        # Only exact keys that occur join the OR: each check is one index lookup, and a
        # username search stays a single range the index covers (an OR of index scans
        # reads every matching row; docs/benchmark-notes.md has the figures).
        for key in exact:
            if AuditEvent.objects.filter(key).exists():
                match |= key
        return queryset.filter(match), False

    # Narrow columns that wrap, and long values cut short with the whole in a tooltip, so
    # the list fits beside the admin's sidebar at 1280 px (audit/static/audit/admin.css).
    class Media:
        css = {"all": ["audit/admin.css"]}

    @admin.display(description=_("event type"), ordering="event_type")
    def event(self, event: AuditEvent) -> str:
        return format_html(
            '<span class="event-label">{}</span> <code class="event-code">{}</code>',
            event_label(event.event_type),
            event.event_type,
        )

    @admin.display(description=_("writer MAC"))
    def writer_mac_shown(self, event: AuditEvent) -> str:
        key_id, clock, nonce, mac = parse_tag(event.writer_mac)
        stamp = parse_timestamp(clock) if clock else None
        if stamp is None:
            return event.writer_mac or self.get_empty_value_display()
        return format_html(
            '{} <time datetime="{}">{}</time> <code>{}</code>',
            key_id,
            clock,
            formats.localize(timezone.localtime(stamp)),
            f"{nonce} {mac}" if nonce else mac,
        )

    @admin.display(description=_("resource"))
    def resource(self, event: AuditEvent) -> str:
        if not (event.resource_type or event.resource_id):
            return self.get_empty_value_display()
        return format_html(
            '<span class="resource-type">{}</span> <span class="resource-id" title="{}">{}</span>',
            event.resource_type,
            event.resource_id,
            event.resource_id,
        )

    @admin.display(description=_("message"), ordering=None)
    def short_message(self, event: AuditEvent) -> str:
        if not event.message:
            return ""
        return format_html(
            '<span title="{}">{}</span>',
            event.message,
            Truncator(event.message).chars(MESSAGE_CHARS),
        )

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

    @admin.action(description=_("Export selected events as CSV"), permissions=["view"])
    def export_csv(self, request, queryset):
        record_event(
            event_type="audit_export",
            user=request.user,
            resource_type="audit_log",
            metadata={
                "surface": "admin",
                "format": "csv",
                "filters": dict(request.GET.items()),
                # Ticked rows, or every event the filters match ("Select all matching").
                "selected": len(request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)),
                "select_across": request.POST.get("select_across") == "1",
            },
        )
        stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
        response = StreamingHttpResponse(
            csv_lines(rows(queryset.order_by("-sequence"))), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="audit-{stamp}.csv"'
        return response
