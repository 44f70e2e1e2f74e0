"""Rows that repeat another's writer MAC: copies of a genuine event, INSERTed later.

Genuine events never share a writer MAC (a random nonce in each, see
audit.sealing.refusals.writer_tag), and the unique constraint audit_one_row_per_writer_mac
refuses a second row with one. Verification looks for repeats only when that
constraint is gone (dropped by the table's owner, or never migrated): with it, the
database already guarantees there are none, and a GROUP BY over every row would cost
verification seconds per million events for nothing.
"""

from django.db import connection
from django.db.models import Count

from ..models import AuditEvent

CONSTRAINT = "audit_one_row_per_writer_mac"


def unique_writer_macs_enforced() -> bool:
    """Return whether the database holds the unique constraint on writer MACs."""
    table = AuditEvent._meta.db_table
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    found = constraints.get(CONSTRAINT)
    return bool(found and found.get("unique") and found.get("columns") == ["writer_mac"])


def repeated_writer_macs(*, limit: int = 100) -> list[list[tuple[int, int | None]]]:
    """Return the (id, sequence) of rows sharing a writer MAC, a group each, oldest id first.

    Empty at once while the unique constraint holds. The first row of a group is the
    one inserted first, the original as far as the table can tell.
    """
    if unique_writer_macs_enforced():
        return []
    repeated = (
        AuditEvent.objects.exclude(writer_mac="")
        .values("writer_mac")
        .annotate(rows=Count("id"))
        .filter(rows__gt=1)
        .values_list("writer_mac", flat=True)[:limit]
    )
    groups: dict[str, list[tuple[int, int | None]]] = {}
    rows = AuditEvent.objects.filter(writer_mac__in=list(repeated)).order_by("id")
    for event_id, sequence, mac in rows.values_list("id", "sequence", "writer_mac"):
        groups.setdefault(mac, []).append((event_id, sequence))
    return sorted(groups.values())
