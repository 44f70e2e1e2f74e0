"""How many events wait for the sealer, and how long the oldest has waited."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from ..expressions import values_as_text
from ..lease import database_now
from ..models import AuditEvent
from .heads import head_timestamp
from .refusals import parse_timestamp

# A stamp this far past the clock verification reads is a writer's clock running ahead
# (not the moment between a writer's stamp and the reading).
FUTURE_TOLERANCE = timedelta(seconds=1)


@dataclass(frozen=True)
class Backlog:
    """Events recorded but not yet linked into the chain."""

    count: int
    oldest_seconds: float | None  # of those not stamped in the future
    refused: int = 0  # unsealed rows stamped before the chain head: never to be linked
    ahead: int = 0  # stamped in the future: not sealable until the clock gets there
    ahead_seconds: float | None = None  # how far the furthest of them is ahead

    def __str__(self) -> str:
        waiting = (
            f"{self.count:,} events not yet sealed, oldest {self.oldest_seconds or 0.0:.1f} s"
            if self.count
            else "every event is sealed"
        )
        if self.ahead:
            furthest = f" up to {self.ahead_seconds:,.1f} s" if self.ahead_seconds else ""
            waiting += f" ({self.ahead:,} stamped{furthest} in the future)"
        if self.refused:
            waiting += (
                f"; {self.refused:,} unsealed events stamped before the chain head "
                "will never be (verify_audit_chain names them)"
            )
        return waiting


def stamp_of_first(queryset) -> datetime | None:
    """Return the timestamp of the queryset's first event, or None (or not a time)."""
    # As text: on SQLite a row written by hand may hold a time that is no time at all.
    text = next(values_as_text(queryset[:1], ("timestamp",), chunk_size=1), (None,))[0]
    return parse_timestamp(text) if text else None


def unsealed_backlog() -> Backlog:
    """Return how many events wait for the sealer and how long the oldest has waited.

    Ages are read on the clock that stamps events (the database's on PostgreSQL), and
    events stamped ahead of it are counted apart: a writer whose clock runs ahead would
    otherwise show as a backlog 0.0 s old while its events stay unsealed and unlisted.
    """
    now = database_now()
    unsealed = AuditEvent.objects.filter(sequence__isnull=True)
    stamp = head_timestamp()
    waiting = unsealed.filter(timestamp__gte=stamp) if stamp is not None else unsealed
    count = waiting.count()
    refused = unsealed.count() - count if stamp is not None else 0
    future = waiting.filter(timestamp__gt=now + FUTURE_TOLERANCE)
    ahead = future.count() if count else 0
    furthest = stamp_of_first(future.order_by("-timestamp", "-id")) if ahead else None
    due = waiting.filter(timestamp__lte=now + FUTURE_TOLERANCE).order_by("timestamp", "id")
    oldest = stamp_of_first(due) if count > ahead else None
    age = (now - oldest).total_seconds() if oldest else None
    return Backlog(
        count=count,
        oldest_seconds=max(age, 0.0) if age is not None else None,
        refused=refused,
        ahead=ahead,
        ahead_seconds=(furthest - now).total_seconds() if furthest else None,
    )
