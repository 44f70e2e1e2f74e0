"""Sidebar filters of the audit list: by user, reads of the log, and time as sequence ranges."""

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from ..api.networks import in_network, parse_network
from ..api.time_bounds import bound_by_sequence

# Reading the trail is recorded too (audit_view, audit_export), but a staff session writes
# one per page, and they buried the logins and uploads people come to see.
READ_EVENT_TYPES = ("audit_view", "audit_export")
# Usernames offered as suggestions; any other can still be typed.
SUGGESTED_USERS = 500


class ReadsOfTheLogFilter(admin.SimpleListFilter):
    """Hide reads of the log unless asked: a visible toggle, and nothing stops recording."""

    title = _("reads of the log")
    parameter_name = "reads"

    def lookups(self, request, model_admin):
        return [("shown", _("Shown"))]

    def choices(self, changelist):
        yield {
            "selected": self.value() is None,
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "display": _("Hidden"),
        }
        yield {
            "selected": self.value() == "shown",
            "query_string": changelist.get_query_string({self.parameter_name: "shown"}),
            "display": _("Shown"),
        }

    def queryset(self, request, queryset):
        if self.value() == "shown":
            return queryset
        return queryset.exclude(event_type__in=READ_EVENT_TYPES)


class UsernameFilter(admin.SimpleListFilter):
    """Events of one username, typed with suggestions (a searchable field, not a list).

    By the username the event recorded, so the events of deleted users stay findable.
    """

    title = _("user")
    parameter_name = "username"
    template = "admin/audit/username_filter.html"

    def lookups(self, request, model_admin):
        return []

    def has_output(self) -> bool:
        return True

    def choices(self, changelist):
        User = get_user_model()
        field = User.USERNAME_FIELD
        yield {
            "selected": self.value() is not None,
            "value": self.value() or "",
            "parameter": self.parameter_name,
            "others": [
                (key, value)
                for key, value in changelist.params.items()
                if key not in (self.parameter_name, "p")
            ],
            "clear": changelist.get_query_string(remove=[self.parameter_name]),
            "suggestions": User.objects.order_by(field).values_list(field, flat=True)[
                :SUGGESTED_USERS
            ],
        }

    def queryset(self, request, queryset):
        value = self.value()
        return queryset.filter(username=value) if value else queryset


class IpAddressFilter(admin.SimpleListFilter):
    """Events from an address, a prefix ("10.1.") or a CIDR range, typed in the sidebar.

    A value that is none of these lists no events and says what to type, beside the
    field it was typed in, instead of the whole log as if no filter were set.
    """

    title = _("IP address")
    parameter_name = "ip"
    template = "admin/audit/ip_filter.html"

    def __init__(self, request, params, model, model_admin):
        super().__init__(request, params, model, model_admin)
        self.error = None
        self.network = None
        if self.value():
            try:
                self.network = parse_network(self.value())
            except ValidationError as error:
                self.error = error.messages[0]

    def lookups(self, request, model_admin):
        return []

    def has_output(self) -> bool:
        return True

    def choices(self, changelist):
        yield {
            "selected": self.value() is not None,
            "value": self.value() or "",
            "parameter": self.parameter_name,
            "error": self.error,
            "others": [
                (key, value)
                for key, value in changelist.params.items()
                if key not in (self.parameter_name, "p")
            ],
            "clear": changelist.get_query_string(remove=[self.parameter_name]),
        }

    def queryset(self, request, queryset):
        if self.error:
            return queryset.none()
        return in_network(queryset, self.network) if self.network else queryset


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
