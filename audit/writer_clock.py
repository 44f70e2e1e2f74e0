"""The writer's clock reading in an event's writer MAC, on the clock that stamps events.

On PostgreSQL the database stamps each event (clock_timestamp(), one clock for every
host) and the writer MAC carries the writer's own reading of the time, taken just before
the INSERT; the sealer refuses an event whose stamp is more than
WRITER_CLOCK_TOLERANCE from that reading, as a copy of an older event re-inserted with
its MAC. Read off the host's wall clock, a host whose clock ran two minutes ahead wrote
events the sealer refused for good (the fault suite, README *Security figures*).

So the reading is the database's clock carried forward on this process's monotonic
clock: the database's time once, then the time elapsed since by time.monotonic(), which
no step of the wall clock (NTP, an operator, a virtual machine resumed) moves. Every
INSERT returns the database's stamp, which takes the carry up again; a process that
wrote nothing for RESYNC_SECONDS asks the database once more.
"""

import threading
import time
from datetime import datetime, timedelta

from django.db import connection

# Monotonic clocks drift from the database's by parts per million: an hour is far
# inside the sealer's tolerance.
RESYNC_SECONDS = 3600.0

_lock = threading.Lock()
# (the database's time, time.monotonic() when it was read): one clock for every thread.
_base: tuple[datetime, float] | None = None


def database_now() -> datetime:
    """Return the writer's reading of the database's clock, asking it only when due."""
    global _base
    base = _base
    if base is None or time.monotonic() - base[1] > RESYNC_SECONDS:
        with connection.cursor() as cursor:
            cursor.execute("SELECT clock_timestamp()")
            (stamp,) = cursor.fetchone()
        base = _observe(stamp)
    return base[0] + timedelta(seconds=time.monotonic() - base[1])


def observe(stamp: datetime) -> None:
    """Take the carry up to a stamp the database just gave an event."""
    _observe(stamp)


def _observe(stamp: datetime) -> tuple[datetime, float]:
    global _base
    base = (stamp, time.monotonic())
    with _lock:
        # Never backwards: a stamp from a slower statement must not undo a newer one.
        if _base is None or _carried(_base, base[1]) < stamp:
            _base = base
        return _base


def _carried(base: tuple[datetime, float], at: float) -> datetime:
    return base[0] + timedelta(seconds=at - base[1])


def forget() -> None:
    """Drop the carried reading (tests that move between databases or clocks)."""
    global _base
    with _lock:
        _base = None
