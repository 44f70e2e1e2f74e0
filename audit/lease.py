"""The sealer's lease: which sealer may link events, until when, and a fence for the rest.

Before, each batch went to the sealer that got a transaction-scoped PostgreSQL advisory
lock. A lock belongs to a session, and a session outlives its host: when the host
holding it loses its network and dies mid-batch, PostgreSQL keeps the session `idle in
transaction`, lock and row locks included, until TCP keepalive gives up (2 h 11 min by
default), and every other sealer skips every round without a word.

A lease is a row (AuditLease "sealer") instead: a holder, a generation and an expiry,
all on the database's clock, so no host's clock or kernel network state decides who
holds it:

- The holder renews it as the first statement of every seal batch, in the batch's own
  transaction, matching its holder id *and* generation. That UPDATE holds the lease
  row's lock until the batch commits, so a batch commits only while its generation
  is the current one: the generation is the fencing token.
- Another sealer takes the lease once it has expired, raising the generation. A
  holder that wakes up after that (a frozen VM, a healed network) renews nothing and
  seals nothing: its generation is gone.
- A dead holder's session may still hold row locks (the chain head, the lease row)
  from the batch it never finished. The taker ends that session
  (pg_terminate_backend on the pid and session start the holder recorded) before it
  takes over. As a second line, every batch sets idle_in_transaction_session_timeout
  and lock_timeout to the lease period for itself: the server ends a session left
  idle in a batch, and no sealer waits on a lock longer than a lease.

SQLite has one writer at a time and a dead process's write lock goes with it; the
lease works the same there (on the application's clock: one host).

Takeover takes one lease period (AUDIT_SEALER_LEASE_SECONDS, 5 s) plus a round at
most; the README gives the measured figure. A sealer that stops cleanly (SIGTERM,
Ctrl-C) releases the lease on its way out, and a standby takes it at its next round.

Beside the sealer (audit/sealing/) rather than inside it: the SIEM stream's rounds are
fenced by the same lease (audit/siem/streamer.py), and the checkpoint signer's heartbeat
(note_signer_seen, audit/worker_duties.py) and health read the same table. It imports
only the models, so all of them can import it and none has to import the sealer.
"""

import logging
import os
import secrets
import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import F, Q

from .models import AuditLease

SEALER = "sealer"
CHECKPOINT_SIGNER = "checkpoint_signer"
# An expiry no holder has: a lease row created free.
NEVER = datetime(2000, 1, 1, tzinfo=UTC)
# How long a taker waits for the dead holder's session to go once told to.
TERMINATE_WAIT_MS = 2000

logger = logging.getLogger("audit_sealer")


def holder_id() -> str:
    """Return a name for this process as a lease holder: host, pid and a random tag."""
    # The tag tells a restarted process (same host, pid reused) from the one before.
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def lease_period() -> timedelta:
    return timedelta(seconds=settings.AUDIT_SEALER_LEASE_SECONDS)


def database_now() -> datetime:
    """Return the database's clock (PostgreSQL), else this host's."""
    if connection.vendor != "postgresql":
        return datetime.now(UTC)
    with connection.cursor() as cursor:
        cursor.execute("SELECT clock_timestamp()")
        return cursor.fetchone()[0]


def bounded_batch() -> tuple[datetime, int | None, datetime | None]:
    """Bound this transaction's idle time and lock waits to a lease; return (now, session).

    The session is (pid, start) on PostgreSQL, (None, None) on SQLite.
    """
    if connection.vendor != "postgresql":
        return datetime.now(UTC), None, None
    limit = str(max(1, int(settings.AUDIT_SEALER_LEASE_SECONDS * 1000)))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT clock_timestamp(), pg_backend_pid(),"
            " (SELECT backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid()),"
            " set_config('idle_in_transaction_session_timeout', %s, true),"
            " set_config('lock_timeout', %s, true)",
            [limit, limit],
        )
        now, pid, started, _, _ = cursor.fetchone()
    return now, pid, started


def end_stale_session(lease: AuditLease) -> None:
    """End the PostgreSQL session a lapsed holder recorded, if it is still there.

    Matched on pid and session start, so a pid reused by another session is left alone;
    pg_terminate_backend itself admits only sessions of the same role (or a member of
    pg_signal_backend). Without that right the taker waits for the server's
    idle_in_transaction_session_timeout instead, and says so.
    """
    if connection.vendor != "postgresql" or lease.backend_pid is None:
        return
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid, %s) FROM pg_stat_activity"
                " WHERE pid = %s AND backend_start = %s AND pid <> pg_backend_pid()",
                [TERMINATE_WAIT_MS, lease.backend_pid, lease.backend_start],
            )
            ended = cursor.fetchone()
    except DatabaseError as error:
        logger.error(
            "cannot end the session (pid %s) of %s, whose %s lease expired: %s",
            lease.backend_pid,
            lease.holder,
            lease.name,
            error,
        )
        return
    if ended is not None:
        logger.warning(
            "ended the session (pid %s) of %s, whose %s lease expired at %s",
            lease.backend_pid,
            lease.holder,
            lease.name,
            lease.expires_at.isoformat(),
        )


@dataclass
class LeaseHolder:
    """This process's claim on a lease: its holder id and the generation it holds."""

    name: str = SEALER
    holder: str = field(default_factory=holder_id)
    generation: int | None = None
    _standing_by: tuple[str, int] | None = field(default=None, repr=False)
    _pid: int = field(default_factory=os.getpid, repr=False)

    def hold(self) -> bool:
        """Renew the lease, or take it if it expired; return True if this holder has it.

        Call inside the transaction that does the leased work: the renewal's row lock
        lasts until it commits, which is what makes the generation a fence.
        """
        if self._pid != os.getpid():
            # A forked child must not share its parent's holder id and generation:
            # both would renew the one lease and the fence would admit both.
            self.holder, self.generation, self._pid = holder_id(), None, os.getpid()
        now, pid, started = bounded_batch()
        renewal = {
            "renewed_at": now,
            "expires_at": now + lease_period(),
            "backend_pid": pid,
            "backend_start": started,
        }
        if self.generation is not None:
            mine = AuditLease.objects.filter(
                name=self.name, holder=self.holder, generation=self.generation
            )
            if mine.update(**renewal):
                return True
            logger.warning(
                "%s lost the %s lease (generation %d) to another holder after it expired; "
                "not sealing",
                self.holder,
                self.name,
                self.generation,
            )
            self.generation = None
        return self.take(now=now, renewal=renewal)

    def take(self, *, now: datetime, renewal: dict) -> bool:
        """Take the lease if it is free or expired; return True if taken."""
        lease = AuditLease.objects.filter(name=self.name).first()
        if lease is None:
            # Created free, then taken like any expired lease. A concurrent creator's
            # row wins the primary key; this one is then ignored.
            free = AuditLease(name=self.name, renewed_at=NEVER, expires_at=NEVER)
            AuditLease.objects.bulk_create([free], ignore_conflicts=True)
            lease = AuditLease.objects.get(name=self.name)
        # No holder writes an expiry past one lease period from its clock reading, and
        # every holder reads the one clock (PostgreSQL's; SQLite's host): a later one was
        # written by someone else (the table has no trigger), to keep every sealer
        # standing by for good. Such a lease is no one's; the generation still fences.
        squatted = now + lease_period()
        if now < lease.expires_at <= squatted:
            self.stand_by(lease)
            return False
        if lease.holder and lease.expires_at <= now:
            end_stale_session(lease)
        # The expiry is checked again on the row as it is when this UPDATE gets its lock:
        # a holder that renewed meanwhile keeps its lease.
        lapsed = Q(expires_at__lte=now) | Q(expires_at__gt=squatted)
        taken = AuditLease.objects.filter(
            lapsed, name=self.name, generation=lease.generation
        ).update(holder=self.holder, generation=F("generation") + 1, **renewal)
        if not taken:
            return False
        self.generation = lease.generation + 1
        self._standing_by = None
        if lease.holder:
            logger.warning(
                "%s took over the %s lease from %s (expired at %s), generation %d",
                self.holder,
                self.name,
                lease.holder,
                lease.expires_at.isoformat(),
                self.generation,
            )
        else:
            logger.info(
                "%s holds the %s lease, generation %d", self.holder, self.name, self.generation
            )
        return True

    def release(self) -> bool:
        """Give the lease up now (a clean stop); return True if this holder had it.

        A standby then takes it at its next round instead of after the expiry. The
        lease is left free, as created: no holder (health reports no dead sealer: this
        one stopped on purpose), no session for the taker to end (this one may still be
        closing), and the generation the next holder raises, which keeps the fence.
        """
        if self.generation is None or self._pid != os.getpid():
            return False
        with transaction.atomic():
            now = database_now()
            released = AuditLease.objects.filter(
                name=self.name, holder=self.holder, generation=self.generation
            ).update(holder="", expires_at=now, backend_pid=None, backend_start=None)
        generation, self.generation = self.generation, None
        if released:
            logger.info(
                "%s released the %s lease (generation %d)", self.holder, self.name, generation
            )
        return bool(released)

    def stand_by(self, lease: AuditLease) -> None:
        """Say once per holder and generation that another holder has the lease."""
        current = (lease.holder, lease.generation)
        if self._standing_by != current:
            self._standing_by = current
            logger.info(
                "%s stands by: %s holds the %s lease (generation %d) until %s",
                self.holder,
                lease.holder,
                self.name,
                lease.generation,
                lease.expires_at.isoformat(),
            )


# This process's claim on the sealer lease; background seal batches go through it.
sealer_lease = LeaseHolder(SEALER)


def note_signer_seen(*, period: timedelta) -> None:
    """Record that this process looked for a due checkpoint; the next look is due in `period`.

    Any worker may sign (a checkpoint holds no lock), so this is a heartbeat, not a
    lease: the newest look wins, and verification reports a signer not seen in time.
    """
    now = database_now()
    seen = {"holder": sealer_lease.holder, "renewed_at": now, "expires_at": now + period}
    AuditLease.objects.update_or_create(name=CHECKPOINT_SIGNER, defaults=seen)


def lease_state(name: str) -> AuditLease | None:
    """Return the lease row of `name`, or None if no process ever took it."""
    return AuditLease.objects.filter(name=name).first()
