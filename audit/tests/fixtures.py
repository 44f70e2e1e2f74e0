"""Test data and helpers that every app's tests import by name.

The fixtures shared across apps are defined once, in the root conftest.py.
"""

from collections.abc import Iterable

from django.http import HttpResponseBase

from audit.lease import sealer_lease
from audit.models import AuditEvent
from audit.sealing.batches import seal_pending

# The password of every user the make_user fixture creates.
PASSWORD = "correct horse battery staple 42"

# The columns a test compares when it asserts "a row with these fields".
EVENT_FIELDS = (
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


def event_fields(event: AuditEvent) -> dict:
    """Return the fields of an event a reader of the trail sees, for one-line comparison."""
    return {name: getattr(event, name) for name in EVENT_FIELDS}


def request_id(response: HttpResponseBase) -> str:
    """Return the request id the server echoed on a response."""
    value = response["X-Request-ID"]
    assert value, "every response carries an X-Request-ID"
    return value


def drain_sealer() -> int:
    """Link every event recorded so far into the chain, as the background sealer does.

    Tests run with AUDIT_SEALING=background, as production does: record_event leaves an
    event's sequence and links NULL until the sealer has linked it. This is the sealer's
    own round (seal_pending under this process's sealer lease, audit/sealing/loop.py),
    run in the test's connection, as inline sealing runs it in the writer's: inside a
    test's transaction it sees the rows that transaction wrote, on both databases (the
    cutoff is now on SQLite; on PostgreSQL only other sessions' open writers of the event
    table hold it back, and this session is not among them). Return how many it linked.

    On PostgreSQL the round sets lock_timeout and idle_in_transaction_session_timeout to
    the lease period for the rest of the transaction it runs in, as every seal batch
    does: inside a test's transaction, for the rest of that test.

    The lease is given up after, as a sealer that stops cleanly does: the next round
    (this test's, a test's own seal_pending(), or the next test's once the lease row was
    rolled back or flushed) takes it at once instead of standing by for its period.
    """
    count = seal_pending(lease=sealer_lease)
    sealer_lease.release()
    return count


def sealed(events: Iterable[AuditEvent]) -> list[AuditEvent]:
    """Drain the sealer; return the events as stored now, linked, in the order given.

    record_event returns an event as it inserted it: with background sealing its
    sequence and links are still NULL on that object.
    """
    wanted = [event.pk for event in events]  # recorded (a generator runs) before the round
    drain_sealer()
    stored = AuditEvent.objects.in_bulk(wanted)
    return [stored[pk] for pk in wanted]
