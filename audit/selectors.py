"""Read the audit trail."""

from django.db.models import QuerySet

from .models import AuditEvent

# Columns the API and exports need; the hash columns stay out of the listing path.
LISTING_FIELDS = (
    "id",
    "sequence",
    "timestamp",
    "event_type",
    "category",
    "outcome",
    "user_id",
    "username",
    "ip_address",
    "user_agent",
    "request_id",
    "resource_type",
    "resource_id",
    "message",
    "metadata",
)


def audit_events() -> QuerySet[AuditEvent]:
    """Return the sealed audit events, newest first.

    An event joins listings once the sealer has given it its place in the chain (within
    AUDIT_SEAL_WINDOW_SECONDS): listings page by sequence, which unsealed events lack.
    """
    return AuditEvent.objects.filter(sequence__isnull=False).order_by("-sequence")


def audit_events_for_listing() -> QuerySet[AuditEvent]:
    """Return audit events with just the columns listings and exports show."""
    return audit_events().only(*LISTING_FIELDS)
