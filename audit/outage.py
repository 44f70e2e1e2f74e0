"""Outlive a lost database in a long-running process: drop the connection, wait, go on.

A database restart, a failover or a cut network ends every open connection and, for a
while, refuses new ones. The worker (ocr_worker) and the sealer wait for
the database to answer again instead of exiting: one line when it is lost, one when it
is back, and a backoff in between (0.5 s, doubling, at most 10 s) so a long outage
costs neither the CPU nor the log.
"""

import logging
import time
from collections.abc import Callable
from contextlib import suppress

from django.db import DatabaseError, InterfaceError, OperationalError, connection, connections

# What Django raises for a connection that is gone or cannot be made. Other database
# errors (a constraint, a bad query) are bugs, not outages, and keep their tracebacks.
CONNECTION_LOST = (OperationalError, InterfaceError)

FIRST_WAIT_SECONDS = 0.5
LONGEST_WAIT_SECONDS = 10.0


def close_connections() -> None:
    """Close this thread's database connections; the next query opens a fresh one."""
    for lost in connections.all(initialized_only=True):
        with suppress(DatabaseError):  # closing a dead connection may complain too
            lost.close()


def backoff(wait: float) -> float:
    """Return the wait after `wait`: doubled, from FIRST_WAIT_SECONDS, at most the longest."""
    return min(LONGEST_WAIT_SECONDS, max(FIRST_WAIT_SECONDS, wait * 2))


def summary(error: BaseException) -> str:
    """Return the error's class and first line: the log says what happened in one line."""
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0] if lines else ''}".rstrip(": ")


def wait_for_database(
    error: BaseException,
    *,
    what: str,
    logger: logging.Logger,
    stop: Callable[[], bool] = lambda: False,
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    """Close the lost connections, then back off until the database answers again.

    Return True once it does, False if `stop()` said to give up first.
    """
    close_connections()
    logger.warning(
        "%s lost the database (%s); retrying every %.1f-%.0f s",
        what,
        summary(error),
        FIRST_WAIT_SECONDS,
        LONGEST_WAIT_SECONDS,
    )
    started = time.monotonic()
    wait = backoff(0.0)
    while not stop():
        sleep(wait)
        try:
            connection.ensure_connection()
        except CONNECTION_LOST:
            close_connections()
            wait = backoff(wait)
            continue
        logger.warning(
            "%s reached the database again after %.1f s", what, time.monotonic() - started
        )
        return True
    return False
