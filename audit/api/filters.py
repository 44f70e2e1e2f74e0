"""The filters integrators use to pull slices of the audit trail."""

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Value
from django.db.models.lookups import Exact
from drf_spectacular.utils import extend_schema_field

from ocr_project.common.filters import StrictFilterForm, UtcDateTimeFilter

from ..events import CLIENT_REQUEST_ID_KEY, EVENT_CATEGORIES, Category, Outcome
from ..expressions import MetadataText
from ..models import AuditEvent
from .networks import in_network, parse_network
from .time_bounds import bound_by_sequence

CLIENT_REQUEST_ID = MetadataText(CLIENT_REQUEST_ID_KEY)


class EventTypeListField(forms.CharField):
    """A comma-separated list of known event types."""

    def clean(self, value):
        value = super().clean(value)
        if not value:
            return []
        names = [name.strip() for name in value.split(",") if name.strip()]
        unknown = [name for name in names if name not in EVENT_CATEGORIES]
        if unknown:
            raise ValidationError(
                "Unknown event type(s): %(names)s. Known: %(known)s.",
                params={"names": ", ".join(unknown[:5]), "known": ", ".join(EVENT_CATEGORIES)},
            )
        return names


class EventTypeListFilter(django_filters.Filter):
    field_class = EventTypeListField

    def filter(self, qs, value):
        if not value:
            return qs
        if len(value) == 1:
            return qs.filter(event_type=value[0])
        return qs.filter(event_type__in=value)


# Declared as an address: a generated client (and schemathesis) sends no other text.
@extend_schema_field({"type": "string", "anyOf": [{"format": "ipv4"}, {"format": "ipv6"}]})
class IpAddressFilter(django_filters.Filter):
    field_class = forms.GenericIPAddressField


class NetworkField(forms.CharField):
    """An address, a prefix ("10.1.") or a CIDR range, as audit.networks reads them."""

    def clean(self, value):
        value = super().clean(value)
        return parse_network(value) if value else None


@extend_schema_field(
    {
        "type": "string",
        "description": "An address, a prefix (10.1.) or a CIDR range (10.1.0.0/16, 2001:db8::/32).",
    }
)
class NetworkFilter(django_filters.Filter):
    field_class = NetworkField

    def filter(self, qs, value):
        return qs if value is None else in_network(qs, value)


# The bounds IdFilter is given, declared: a generated client never sends user_id=0.
ID_MAX = 2**63 - 1


@extend_schema_field({"type": "integer", "minimum": 1, "maximum": ID_MAX})
class IdFilter(django_filters.Filter):
    # NumberFilter takes decimals, and "1.5" would then match user 1.
    field_class = forms.IntegerField


@extend_schema_field({"type": "integer", "minimum": 0, "maximum": ID_MAX})
class SequenceFilter(django_filters.Filter):
    field_class = forms.IntegerField


class TimeBoundFilter(UtcDateTimeFilter):
    """A time bound applied as a sequence bound (audit.api.time_bounds.bound_by_sequence).

    The listing then reads a range of the sequence index it is ordered by, instead of
    walking that index and discarding rows outside the range (seconds at 1M rows for a
    range far from the newest events).
    """

    def filter(self, qs, value):
        if value in (None, ""):
            return qs
        return bound_by_sequence(qs, {self.lookup_expr: value})


class AuditEventFilter(django_filters.FilterSet):
    event_type = EventTypeListFilter(
        help_text="One event type, or several separated by commas (auth_login,auth_logout)."
    )
    category = django_filters.ChoiceFilter(choices=Category.choices)
    outcome = django_filters.ChoiceFilter(choices=Outcome.choices)
    # Bounded by the largest integer SQLite can bind; beyond it the query itself fails.
    user_id = IdFilter(field_name="user_id", min_value=1, max_value=ID_MAX)
    username = django_filters.CharFilter(max_length=150)
    # Unpacked like stored addresses (audit.recording.client.valid_ip): ::ffff:a.b.c.d is a.b.c.d.
    ip_address = IpAddressFilter(
        field_name="ip_address", unpack_ipv4=True, help_text="Exact IPv4 or IPv6 address."
    )
    ip = NetworkFilter(
        max_length=64,
        help_text="An IP address, a prefix (10.1.) or a CIDR range (10.1.0.0/16, 2001:db8::/32).",
    )
    resource_type = django_filters.CharFilter(max_length=20)
    resource_id = django_filters.CharFilter(max_length=64)
    request_id = django_filters.CharFilter(max_length=64, help_text="The server's request id.")
    # What the caller sent as X-Request-ID (metadata.client_request_id): its claim,
    # answered from the audit_client_request index.
    client_request_id = django_filters.CharFilter(
        method="filter_client_request_id",
        max_length=64,
        help_text="The X-Request-ID the caller sent, exactly.",
    )
    # For pollers that keep the last sequence they stored: strictly after it, exact at
    # the boundary (unlike `since`, inclusive by time), and answered from the sequence index.
    after_sequence = SequenceFilter(
        field_name="sequence",
        lookup_expr="gt",
        min_value=0,
        max_value=ID_MAX,
        help_text="Only events with a larger sequence number (0: all).",
    )
    since = TimeBoundFilter(
        field_name="timestamp", lookup_expr="gte", help_text="ISO 8601, inclusive."
    )
    until = TimeBoundFilter(
        field_name="timestamp", lookup_expr="lt", help_text="ISO 8601, exclusive."
    )

    class Meta:
        model = AuditEvent
        fields: list[str] = []
        form = StrictFilterForm

    def filter_client_request_id(self, queryset, name, value):
        # The very expression audit_client_request indexes, compared as text: the JSON
        # lookup (metadata__key=value) renders another expression, which no index answers.
        return queryset.filter(Exact(CLIENT_REQUEST_ID, Value(value)))
