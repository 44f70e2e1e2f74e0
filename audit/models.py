"""The audit trail: append-only events linked into a hash chain."""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.db.models import F, Max, Min
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .events import Category, Outcome
from .expressions import FoldedUsername


class AppendOnlyError(Exception):
    """Raised when code tries to change or remove a recorded audit event."""


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


def bound_by_sequence(queryset, bounds: dict[str, datetime | str]):
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


# Up to this many matching events, their timestamps are read outright. Finding the
# first or last of a few events scattered over millions by walking the sequence index
# (ORDER BY sequence LIMIT 1, which both databases choose for a filter no index orders)
# reads the whole index when they are rare or absent: 0.45 s per walk on PostgreSQL
# for an admin search that matches nothing at 1M rows.
FEW_EVENTS = 2000


def few_timestamps(queryset) -> list[datetime] | None:
    """Return the queryset's timestamps if it has at most FEW_EVENTS events, else None."""
    unordered = queryset.order_by()
    # A capped count: it stops at FEW_EVENTS + 1 rows however many match.
    if unordered[: FEW_EVENTS + 1].count() > FEW_EVENTS:
        return None
    return list(unordered.values_list("timestamp", flat=True))


def timestamp_extremes(queryset) -> tuple[datetime | None, datetime | None]:
    """Return the first and last timestamps of the queryset's events."""
    stamps = few_timestamps(queryset)
    if stamps is not None:
        return min(stamps, default=None), max(stamps, default=None)
    return sequence_end_timestamps(queryset)


def sequence_end_timestamps(queryset) -> tuple[datetime | None, datetime | None]:
    """Return the timestamps of the queryset's first and last events by sequence.

    Timestamps never run backwards along the chain, so these are its extremes. Meant for
    querysets with many events: the walks along the sequence index meet one soon.
    """
    events = queryset.values_list("timestamp", flat=True)
    return events.order_by("sequence").first(), events.order_by("-sequence").first()


def period_starts(queryset, *, kind: str, descending: bool, tz) -> list[datetime]:
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


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("Audit events cannot be updated.")

    def delete(self):
        raise AppendOnlyError("Audit events cannot be deleted; use the audit_retention command.")

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

    # The retention command is the one sanctioned path that removes rows. One DELETE
    # statement: no rows loaded into memory, no per-row signals for millions of rows.
    def _retention_delete(self) -> int:
        return self._raw_delete(self.db)


class AuditEvent(models.Model):
    """One security-relevant action, who did it, from where, and what it touched."""

    # NULL until the sealer links the event into the chain (audit/sealer.py), then
    # filled once with prev_hash, hash and key_id; never changed after that.
    sequence = models.PositiveBigIntegerField(unique=True, null=True, editable=False)
    timestamp = models.DateTimeField(editable=False)
    # Validated against audit.events at write time; not DB choices, so adding an event
    # type never needs a migration.
    event_type = models.CharField(max_length=40)
    category = models.CharField(max_length=20, choices=Category.choices)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="audit_events",
        # The trail must outlive its users; the username snapshot keeps who it was.
        db_constraint=False,
        # audit_user_seq (user, sequence) answers every lookup by user, including the
        # SET NULL when a user is deleted; a second index would only slow each insert.
        db_index=False,
    )
    username = models.CharField(max_length=150, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    resource_type = models.CharField(max_length=20, blank=True)
    resource_id = models.CharField(max_length=64, blank=True)
    message = models.CharField(max_length=500, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    # NULL, not "", while unsealed: "no link yet" must never read as a link.
    prev_hash = models.CharField(max_length=64, null=True, editable=False)  # noqa: DJ001
    hash = models.CharField(max_length=64, null=True, editable=False)  # noqa: DJ001
    # Which AUDIT_CHAIN_KEYS key made `hash` (an HMAC); "" for the plain SHA-256 links
    # written before keyed links. Not hashed itself: the wrong id names a key under
    # which the link does not verify, so changing it is caught all the same.
    key_id = models.CharField(max_length=16, blank=True, default="", editable=False)
    # What record_event wrote before the event was sealed: "<key id> <its clock> <MAC>",
    # an HMAC of the fields under the chain key (audit.sealer.writer_tag). The sealer
    # links only events whose MAC holds: a row INSERTed by anyone without the key is not.
    # "" on events linked as they were written (seeded, key changes, the locked design).
    writer_mac = models.CharField(
        max_length=120, blank=True, default="", db_default="", editable=False
    )

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        ordering = ["-sequence"]
        # Every listing orders by -sequence (the API's cursor, the admin), so each filter
        # column is paired with sequence: the index hands rows over already in order and
        # LIMIT stops early. Paired with timestamp instead, a filter with few or no
        # matches made PostgreSQL walk the whole sequence index backwards (1M rows:
        # ~1 s for a user with no events of the type; see docs/benchmarks.md).
        indexes = [
            models.Index(fields=["timestamp"], name="audit_ts"),
            models.Index(fields=["event_type", "sequence"], name="audit_type_seq"),
            models.Index(fields=["category", "sequence"], name="audit_cat_seq"),
            models.Index(fields=["user", "sequence"], name="audit_user_seq"),
            models.Index(fields=["username", "sequence"], name="audit_username_seq"),
            # Case-insensitive prefix search on the username (admin search box).
            # event_type and sequence make it covering: a prefix with many matches is
            # counted, filtered (reads hidden) and ordered from the index alone.
            models.Index(
                FoldedUsername("username"),
                F("event_type"),
                F("sequence"),
                name="audit_username_folded",
            ),
            models.Index(fields=["ip_address", "sequence"], name="audit_ip_seq"),
            models.Index(fields=["request_id"], name="audit_request"),
            models.Index(fields=["resource_type", "resource_id"], name="audit_resource"),
            # The sealer's work list: only unsealed rows are in it, so it stays tiny.
            models.Index(
                fields=["timestamp", "id"],
                name="audit_unsealed",
                condition=models.Q(sequence__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.sequence} {self.event_type} {self.outcome} {self.username or '-'}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError("Audit events cannot be changed once recorded.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("Audit events cannot be deleted; use the audit_retention command.")


class ChainHead(models.Model):
    """The newest link of the chain; its row lock serialises sealers.

    Exactly one row (id=1). It also lets verification notice when the newest events
    were removed: the head then points past the last row that exists.
    """

    sequence = models.PositiveBigIntegerField(default=0)
    hash = models.CharField(max_length=64)
    # The newest event's timestamp: the next one is never stamped earlier, even when
    # the system clock steps backwards, so verification can treat a step back as tampering.
    timestamp = models.DateTimeField(null=True, editable=False)
    # The newest event's key id: a writer whose signing key differs records the switch
    # (or rotation) as an event first, so every key change is a link of the chain.
    key_id = models.CharField(max_length=16, blank=True, default="", editable=False)

    def __str__(self) -> str:
        return f"head #{self.sequence}"


class AuditCheckpoint(models.Model):
    """A signed note of the chain's newest link, kept so a dashboard can show the last one.

    The signed JSON file handed to the operator is what proves the chain; this row is a
    copy for display, and the next checkpoint checks its event still holds this hash.
    """

    sequence = models.PositiveBigIntegerField()
    hash = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    signature = models.CharField(max_length=64)

    class Meta:
        ordering = ["-created_at", "-id"]
        get_latest_by = ["created_at", "id"]

    def __str__(self) -> str:
        return f"checkpoint #{self.sequence} at {self.created_at:%Y-%m-%d %H:%M}"
