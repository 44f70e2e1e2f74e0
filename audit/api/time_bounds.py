"""Time bounds as sequence bounds: "stamped at or after t" is "sequence at or after n"."""

from datetime import datetime

from django.db.models import Min, QuerySet

from ..models import AuditEvent


def first_sequence_at_or_after(moment: datetime | str) -> int | None:
    """Return the lowest sequence stamped at or after ``moment``, or None if there is none.

    Timestamps never run backwards along the chain (record_event stamps under the chain
    lock, and verify_audit_chain checks it), so "timestamp >= t" is exactly "sequence >=
    this number": time bounds become ranges of the sequence index every listing is
    ordered by. Two index lookups: the first timestamp at or after the moment, then the
    lowest sequence stamped with it (several events can share a microsecond).
    """
    events = AuditEvent.objects.order_by()
    first_stamp = (
        events.filter(timestamp__gte=moment)
        .order_by("timestamp")
        .values_list("timestamp", flat=True)
        .first()
    )
    if first_stamp is None:
        return None
    return events.filter(timestamp=first_stamp).aggregate(first=Min("sequence"))["first"]


def bound_by_sequence[Events: QuerySet](
    queryset: Events, bounds: dict[str, datetime | str]
) -> Events:
    """Return the queryset limited to events stamped >= bounds["gte"] and < bounds["lt"].

    Each time bound becomes a sequence bound (first_sequence_at_or_after), so a
    newest-first listing reads a range of the sequence index instead of filtering on time.
    """
    for lookup, moment in bounds.items():
        first_after = first_sequence_at_or_after(moment)
        if first_after is None:
            # Nothing at or after the moment: "from" matches nothing, "until" all.
            queryset = queryset.none() if lookup == "gte" else queryset
        else:
            queryset = queryset.filter(**{f"sequence__{lookup}": first_after})
    return queryset
