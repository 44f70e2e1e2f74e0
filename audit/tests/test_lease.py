"""The sealer lease: a dead holder is taken over, and a stale holder is fenced out."""

import os
import signal
import subprocess
import sys
import threading
import time
from urllib.parse import quote

import psycopg
import pytest
from django.conf import settings as django_settings
from django.db import connection, connections, transaction

from audit.lease import SEALER, LeaseHolder
from audit.models import AuditEvent, AuditLease
from audit.sealing.batches import seal_batch
from audit.sealing.loop import run_sealer
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
    monkeypatch.setattr("audit.sealing.loop.sealer_lease", survivor)

    def sealer():
        try:
            run_sealer(interval=0.1, stop=stop.is_set)
        finally:
            connections.close_all()

    thread = threading.Thread(target=sealer)
    thread.start()
    try:
        poll(lambda: sealed(waiting), what="the waiting event is sealed by host-b")
        # Read before the loop stops: on its way out it releases the lease.
        lease = AuditLease.objects.get(name=SEALER)
    finally:
        stop.set()
        thread.join(TIMEOUT_SECONDS)
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


@pytest.fixture
def long_lease(settings):
    # Ten minutes: a standby that seals at once can only have been let in by a release.
    settings.AUDIT_SEALER_LEASE_SECONDS = 600.0


def lease_row() -> AuditLease:
    return AuditLease.objects.get(name=SEALER)


@pytest.mark.django_db(transaction=True)
def test_a_released_lease_is_taken_at_once_by_a_standby(user, long_lease):
    host_a, host_b = LeaseHolder(holder="host-a"), LeaseHolder(holder="host-b")
    record_event(event_type="auth_login", user=user)
    assert seal_batch(lease=host_a).count == 1
    waiting = record_event(event_type="auth_logout", user=user)
    assert seal_batch(lease=host_b) is None  # A's lease runs for ten more minutes

    assert host_a.release()  # a clean stop
    assert lease_row().holder == ""  # free: health reports no dead sealer

    seal = seal_batch(lease=host_b)
    assert seal is not None and [pk for pk, _, _ in seal.links] == [waiting.pk]
    assert (lease_row().holder, lease_row().generation) == ("host-b", 2)
    # A gave it up: it neither releases nor renews B's lease.
    assert not host_a.release()
    record_event(event_type="auth_login", user=user)
    assert seal_batch(lease=host_a) is None
    assert seal_batch(lease=host_b).count == 1
    assert verify_chain().ok


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("ending", ["stop", "ctrl-c"])
def test_the_sealer_loop_releases_its_lease_on_the_way_out(user, long_lease, monkeypatch, ending):
    first = record_event(event_type="auth_login", user=user)
    leaving = LeaseHolder(holder="host-leaving")
    monkeypatch.setattr("audit.sealing.loop.sealer_lease", leaving)
    rounds: list[int] = []

    def stop() -> bool:
        rounds.append(1)
        if len(rounds) < 3:
            return False
        if ending == "ctrl-c":
            raise KeyboardInterrupt
        return True

    if ending == "ctrl-c":
        with pytest.raises(KeyboardInterrupt):
            run_sealer(interval=0.05, stop=stop)
    else:
        run_sealer(interval=0.05, stop=stop)

    assert sealed(first)  # the loop held the lease...
    assert lease_row().holder == ""  # ...and gave it up
    later = record_event(event_type="auth_logout", user=user)
    assert seal_batch(lease=LeaseHolder(holder="standby")).count == 1
    assert sealed(later)


@pytest.mark.postgresql  # the test database must be reachable from another process
@pytest.mark.django_db(transaction=True)
def test_audit_sealer_stopped_by_sigterm_hands_its_lease_over_at_once(user, long_lease, tmp_path):
    params = connection.settings_dict
    password = f":{quote(params['PASSWORD'])}" if params["PASSWORD"] else ""
    url = (
        f"postgres://{quote(params['USER'])}{password}@{params['HOST'] or '127.0.0.1'}:"
        f"{params['PORT'] or 5432}/{quote(params['NAME'])}"
    )
    environment = {
        **os.environ,
        "DATABASE_URL": url,
        "AUDIT_SEALING": "background",
        "AUDIT_SEALER_LEASE_SECONDS": "600",
        "AUDIT_STREAM": "off",
    }
    log = tmp_path / "sealer.log"
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "audit_sealer"],
            cwd=django_settings.BASE_DIR,
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        poll(
            lambda: AuditLease.objects.filter(
                name=SEALER, holder__contains=f":{process.pid}:"
            ).exists(),
            what="audit_sealer takes the lease",
        )
        process.send_signal(signal.SIGTERM)
        assert process.wait(TIMEOUT_SECONDS) == 0, log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert lease_row().holder == "", log.read_text()
    assert "released the sealer lease" in log.read_text()

    event = record_event(event_type="auth_login", user=user)
    assert seal_batch(lease=LeaseHolder(holder="standby")).count == 1
    assert sealed(event)


@pytest.mark.django_db(transaction=True)
def test_a_lease_written_to_expire_years_ahead_is_taken_over(user):
    # The lease table has no trigger: any role that may write it (the web's, say) could
    # set the expiry to 9999 in one UPDATE, and every sealer stood by for good. No holder
    # ever writes an expiry past one lease period from now: such a lease is no one's.
    record_event(event_type="auth_login", user=user)
    assert seal_batch(lease=LeaseHolder(holder="host-a")).count == 1
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE audit_auditlease SET holder = 'squatter', expires_at = %s WHERE name = %s",
            ["9999-01-01T00:00:00+00:00", SEALER],
        )
    waiting = record_event(event_type="auth_logout", user=user)
    host_b = LeaseHolder(holder="host-b")
    assert seal_batch(lease=host_b).count == 1
    assert sealed(waiting)
    assert AuditLease.objects.get(name=SEALER).holder == "host-b"
    assert verify_chain().ok
