"""The writer's clock reading in an event's writer MAC, on the clock that stamps events.

On PostgreSQL the database stamps each event (clock_timestamp(), one clock for every
host) and the writer MAC carries the writer's own reading of the time, taken just before
the INSERT; the sealer refuses an event whose stamp is more than
WRITER_CLOCK_TOLERANCE from that reading, as a copy of an older event re-inserted with
its MAC. Read off the host's wall clock, a host whose clock ran two minutes ahead wrote
events the sealer refused for good (the fault suite, README *Security figures*).

So the reading is the database's clock carried forward on this process's monotonic
clock: the database's time once, then the time elapsed since by time.monotonic(), which
no step of the wall clock (NTP, an operator, a virtual machine resumed) moves. It is
read again every RESYNC_SECONDS, and at once after an INSERT whose stamp came back more
than RESYNC_DRIFT from the reading: the database's clock was stepped, or a trigger
stamped the row. A stamp never sets the reading: one forged stamp far in the future
would otherwise make every later event of the process look like a copy.
"""

import threading
import time
from datetime import datetime, timedelta

from django.db import connection

# Monotonic clocks drift from the database's by parts per million; the database's own
# clock may be stepped (NTP), which the drift check below notices at the next INSERT.
RESYNC_SECONDS = 600.0
RESYNC_DRIFT = timedelta(seconds=5)

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
        base = (stamp, time.monotonic())
        with _lock:
            _base = base
    return base[0] + timedelta(seconds=time.monotonic() - base[1])


def observe(*, reading: datetime, stamp: datetime) -> None:
    """Read the database's clock again next time if an INSERT's stamp is off the reading."""
    # A statement takes milliseconds; seconds apart, the reading is what is wrong.
    if abs(stamp - reading) > RESYNC_DRIFT:
        forget()


def forget() -> None:
    """Drop the carried reading: the next one asks the database."""
    global _base
    with _lock:
        _base = None
