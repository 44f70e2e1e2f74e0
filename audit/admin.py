"""Django admin for the audit trail: read-only for everyone, superusers included."""

from django.contrib import admin
from django.core.paginator import Paginator
from django.http import StreamingHttpResponse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _

from .export import csv_lines, rows
from .models import AuditEvent
from .services import record_event


class EstimatedCountPaginator(Paginator):
    """A paginator that never runs COUNT(*) over the whole table.

    Unfiltered, the count is the newest sequence number minus the oldest (exact while
    no rows are pruned from the middle, which the chain forbids). Filtered queries fall
    back to a real count, which the indexes keep cheap.
    """

    @cached_property
    def count(self) -> int:
        query = self.object_list.query
        if not query.where:
            newest = self.object_list.order_by("-sequence").values_list("sequence", flat=True)[:1]
            oldest = self.object_list.order_by("sequence").values_list("sequence", flat=True)[:1]
            if not newest:
                return 0
            return newest[0] - oldest[0] + 1
        return super().count


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
    )
    list_filter = ("event_type", "category", "outcome", "timestamp")
    search_fields = ("=username", "=ip_address", "=resource_id", "=request_id")
    search_help_text = _("Exact username, IP address, resource id or request id.")
    date_hierarchy = "timestamp"
    ordering = ("-sequence",)
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    list_per_page = 100
    actions = ["export_csv"]
    readonly_fields = [field.name for field in AuditEvent._meta.fields]

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
