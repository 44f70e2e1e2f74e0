"""Which events are safe to seal now: the cutoff, and the sealer role that may link them."""

import logging
from datetime import datetime

from django.db import connection

from ..models import AuditEvent
from .heads import BEFORE_EVERY_EVENT, utc_now

# Diagnostics, on standard error; the SIEM stream has a sink of its own (audit/siem).
logger = logging.getLogger("audit_sealer")


def sealing_cutoff() -> datetime:
    """Return the time before which every stamped event has committed or rolled back.

    PostgreSQL: the start of the oldest transaction that holds (or waits for) a
    RowExclusiveLock on the event table, else now. Only such a transaction can still
    commit an event: an INSERT takes that lock on its target table when the statement
    is parsed (or, prepared, before its plan runs), before clock_timestamp() in its
    VALUES is evaluated, and keeps it to the end of its transaction. Verified with a
    SHARE lock held on the table: plain, PREPAREd, driver-prepared INSERTs and a column
    default all stamped after it was released (audit/tests/test_sealer.py). So an event
    stamped before `now` below was inserted by a transaction that held the lock at
    `now`: still open, it is among the lock holders read after it, its stamp no earlier
    than its start; ended, it committed or rolled back. Transactions that wrote only
    other tables (a temp table in psql, a slow job) are none of the sealer's business:
    waiting for them let any session keep every new event unsealed for as long as it
    liked. Prepared transactions (2PC) hold locks with no session: Django prepares
    none, and max_prepared_transactions is 0 by default.
    """
    if connection.vendor != "postgresql":
        return utc_now()
    table = connection.ops.quote_name(AuditEvent._meta.db_table)
    with connection.cursor() as cursor:
        # The clock first, in a statement of its own: a writer that takes the lock after
        # the locks below are read stamps after this reading, never before the cutoff.
        # Backend status is cached per transaction; clear it to see the present.
        cursor.execute("SELECT clock_timestamp(), pg_stat_clear_snapshot()")
        now = cursor.fetchone()[0]
        # A holder missing from pg_stat_activity, or shown there with no transaction
        # (idle, or active between its commit and its next query), ended its transaction
        # or began one after `now` between the two reads: nothing to wait for. One whose
        # state is hidden (NULL: another role's session, to a login without
        # pg_read_all_stats) or not tracked (track_activities off) may have stamped at
        # any time: wait for it to end.
        cursor.execute(
            "SELECT min(activity.xact_start), array_agg(held.pid) FILTER (WHERE"
            " activity.xact_start IS NULL"
            " AND (activity.state IS NULL OR activity.state = 'disabled'))"
            " FROM pg_locks AS held JOIN pg_stat_activity AS activity USING (pid)"
            " WHERE held.locktype = 'relation' AND held.mode = 'RowExclusiveLock'"
            " AND held.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            " AND held.relation = %s::regclass AND held.pid <> pg_backend_pid()",
            [table],
        )
        oldest, hidden = cursor.fetchone()
    if hidden:
        warn_hidden_writers(hidden)
        return BEFORE_EVERY_EVENT
    return min(now, oldest) if oldest is not None else now


_hidden_writers: set[int] = set()


def warn_hidden_writers(pids: list[int]) -> None:
    """Say once per session that a writer's transaction start is hidden from this login."""
    new = set(pids) - _hidden_writers
    if not new:
        return
    _hidden_writers.update(new)
    logger.warning(
        "sealing waits for the transactions of pids %s, which hold the audit event table "
        "and whose start this database login cannot see: grant pg_read_all_stats to the "
        "sealer's login (or connect every host as one role), and keep track_activities on",
        ", ".join(map(str, sorted(new))),
    )
