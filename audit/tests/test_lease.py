"""The sealer lease: a dead holder is taken over, and a stale holder is fenced out."""

import threading
import time

import psycopg
import pytest
from django.db import connection, connections, transaction

from audit.lease import SEALER, LeaseHolder
from audit.models import AuditEvent, AuditLease
from audit.sealer import run_sealer, seal_batch
from audit.services import record_event
from audit.verification.verify import verify_chain

# Generous: the lease in these tests is 1 s; this only stops a hung test.
TIMEOUT_SECONDS = 60


@pytest.fixture(autouse=True)
def short_lease(settings):
    settings.AUDIT_SEALING = "background"
    settings.AUDIT_SEALER_LEASE_SECONDS = 1.0
    settings.AUDIT_SEAL_INTERVAL_SECONDS = 0.1


def sealed(event: AuditEvent) -> bool:
    return AuditEvent.objects.filter(pk=event.pk, sequence__isnull=False).exists()


def poll(condition, *, what: str):
    """Return condition()'s first true value, asking every 0.1 s; fail after the timeout."""
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"not within {TIMEOUT_SECONDS} s: {what}")


@pytest.mark.django_db(transaction=True)
def test_a_holder_that_stops_renewing_is_taken_over_and_then_fenced_out(user):
    host_a, host_b = LeaseHolder(holder="host-a"), LeaseHolder(holder="host-b")
    record_event(event_type="auth_login", user=user)
    assert seal_batch(lease=host_a).count == 1
    second = record_event(event_type="auth_logout", user=user)

    # A's lease is live: B stands by and seals nothing.
    assert seal_batch(lease=host_b) is None
    assert not sealed(second)

    # A goes silent. B takes over once A's lease has expired.
    seal = poll(lambda: seal_batch(lease=host_b), what="host-b takes the lease over")
    assert seal.links == [(second.pk, 2, AuditEvent.objects.get(pk=second.pk).hash)]
    lease = AuditLease.objects.get(name=SEALER)
    # Created free (generation 0), taken by A (1), taken over by B (2).
    assert (lease.holder, lease.generation) == ("host-b", 2)

    # A wakes up: its generation is gone, so it seals nothing, now or later.
    third = record_event(event_type="auth_login", user=user)
    assert seal_batch(lease=host_a) is None
    assert host_a.generation is None
    assert not sealed(third)
    assert seal_batch(lease=host_b).count == 1
    assert verify_chain().ok


@pytest.mark.postgresql  # a session outliving its host is PostgreSQL's
@pytest.mark.django_db(transaction=True)
def test_a_dead_hosts_session_holding_the_lease_and_the_head_is_taken_over(user, monkeypatch):
    # The issue: the sealing host's network went away mid-batch and it was killed.
    # PostgreSQL keeps its session "idle in transaction" (lease row and chain head
    # locked) until TCP keepalive gives up, hours later. Here that session is a second
    # connection that takes the lease as the sealer would, locks the head, and goes
    # silent without closing. It sets no idle timeout: the takeover must not need one.
    record_event(event_type="auth_login", user=user)
    assert seal_batch(lease=LeaseHolder(holder="host-before")).count == 1
    dead = psycopg.connect(**connection.get_connection_params())
    # Its earlier batches: it took the lease over and renewed it, committed...
    session = (
        " renewed_at = clock_timestamp(), expires_at = clock_timestamp() + interval '1 s',"
        " backend_pid = pg_backend_pid(),"
        " backend_start = (SELECT backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid())"
    )
    dead_generation = dead.execute(
        "UPDATE audit_auditlease SET holder = 'dead-host:4242:0', generation = generation + 1,"  # noqa: S608
        f"{session} WHERE name = 'sealer' RETURNING generation"
    ).fetchone()[0]
    dead.commit()
    # ...then the batch it never finished: renewed, the chain head locked, silence.
    dead.execute(f"UPDATE audit_auditlease SET{session} WHERE name = 'sealer'")
    dead.execute("SELECT 1 FROM audit_chainhead WHERE id = 1 FOR UPDATE")
    waiting = record_event(event_type="auth_logout", user=user)

    stop = threading.Event()
    survivor = LeaseHolder(holder="host-b")

    # The real loop, as `manage.py audit_sealer` runs it on the other host.
    monkeypatch.setattr("audit.sealer.sealer_lease", survivor)

    def sealer():
        try:
            run_sealer(interval=0.1, stop=stop.is_set)
        finally:
            connections.close_all()

    thread = threading.Thread(target=sealer)
    thread.start()
    try:
        poll(lambda: sealed(waiting), what="the waiting event is sealed by host-b")
    finally:
        stop.set()
        thread.join(TIMEOUT_SECONDS)
    lease = AuditLease.objects.get(name=SEALER)
    assert (lease.holder, lease.generation) == ("host-b", dead_generation + 1)
    # The dead host's session was ended, its half-done batch rolled back.
    with pytest.raises(psycopg.OperationalError):
        dead.execute("SELECT 1")
    dead.close()
    assert verify_chain().ok


@pytest.mark.django_db(transaction=True)
def test_a_batch_renews_the_lease_in_its_own_transaction(user):
    # Rolled back with the batch: a renewal never outlives the work it vouches for.
    holder = LeaseHolder(holder="host-a")
    record_event(event_type="auth_login", user=user)
    assert seal_batch(lease=holder).count == 1
    before = AuditLease.objects.get(name=SEALER).expires_at

    with pytest.raises(RuntimeError), transaction.atomic():
        assert holder.hold()
        raise RuntimeError("the batch failed")

    assert AuditLease.objects.get(name=SEALER).expires_at == before
