"""Background sealing: record_event is one INSERT; a sealer links committed events later."""

import io
import json
import threading
import time
from datetime import timedelta

import psycopg
import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, connections, transaction
from django.utils import timezone

from audit.lease import LeaseHolder
from audit.models import AuditEvent, ChainHead
from audit.sealing.backlog import unsealed_backlog
from audit.sealing.batches import seal_batch, seal_pending
from audit.sealing.cutoff import sealing_cutoff
from audit.sealing.heads import BEFORE_EVERY_EVENT, head_timestamp
from audit.sealing.refusals import writer_tag
from audit.services import record_event
from audit.tests.tamper import TABLE, append_chain
from audit.transparency.tree_heads import sign_tree_head
from audit.verification.verify import verify_chain

# Concurrent writers and the trigger are PostgreSQL's.
postgresql_only = pytest.mark.postgresql


@pytest.fixture(autouse=True)
def background(settings):
    settings.AUDIT_SEALING = "background"


def stream_documents(lines: list[str]) -> list[dict]:
    return [json.loads(line) for line in lines]


@pytest.mark.django_db(transaction=True)
def test_an_event_is_recorded_unsealed_then_sealed_and_the_chain_verifies(user, audit_stream):
    first = record_event(event_type="auth_login", user=user)
    second = record_event(event_type="task_create", user=user, resource_id=7)

    stored = AuditEvent.objects.get(pk=first.pk)
    assert (stored.sequence, stored.prev_hash, stored.hash) == (None, None, None)
    assert unsealed_backlog().count == 2
    # Nothing is streamed before it is sealed: a line carries its link or is not written.
    assert audit_stream(seal=False) == []

    assert seal_pending() == 2

    sealed = list(AuditEvent.objects.order_by("sequence").values_list("pk", "sequence"))
    assert sealed == [(first.pk, 1), (second.pk, 2)]
    assert ChainHead.objects.get(pk=1).sequence == 2
    assert verify_chain().ok
    assert unsealed_backlog().count == 0
    # The stream: each event once, after it was sealed, with its place in the chain.
    documents = stream_documents(audit_stream())
    stored = {event.pk: event for event in AuditEvent.objects.all()}
    assert [(d["id"], d["sequence"], d["leaf_index"]) for d in documents] == [
        (first.pk, 1, 0),
        (second.pk, 2, 1),
    ]
    for document in documents:
        event = stored[document["id"]]
        assert (document["hash"], document["prev_hash"], document["key_id"]) == (
            event.hash,
            event.prev_hash,
            event.key_id,
        )
    assert documents[1]["prev_hash"] == documents[0]["hash"]
    assert len(audit_stream()) == 2


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_event_is_never_sealed_nor_streamed(user, audit_stream):
    with pytest.raises(RuntimeError), transaction.atomic():
        record_event(event_type="auth_login", user=user)
        raise RuntimeError("the action failed")

    assert seal_pending() == 0
    assert not AuditEvent.objects.exists()
    assert audit_stream() == []


@pytest.mark.django_db(transaction=True)
def test_verify_audit_chain_reports_the_unsealed_backlog(user):
    record_event(event_type="auth_login", user=user)
    seal_pending()
    sign_tree_head()
    record_event(event_type="auth_logout", user=user)
    out = io.StringIO()

    call_command("verify_audit_chain", stdout=out)

    assert "1 events not yet sealed, oldest" in out.getvalue()
    assert "OK:" in out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_the_dashboard_shows_the_unsealed_backlog(admin_client, user):
    record_event(event_type="auth_login", user=user)

    page = admin_client.get("/admin/dashboard/")

    assert page.status_code == 200
    assert "not yet sealed, oldest" in page.content.decode()


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_an_event_committed_late_is_sealed_after_and_in_time_order(user):
    # Writer A records first and commits last; writer B records later, commits first.
    a_recorded, b_committed, a_may_commit = threading.Event(), threading.Event(), threading.Event()

    def writer_a():
        try:
            with transaction.atomic():
                record_event(event_type="auth_login", username="slow")
                a_recorded.set()
                a_may_commit.wait(30)
        finally:
            connections.close_all()

    thread = threading.Thread(target=writer_a)
    thread.start()
    assert a_recorded.wait(30)
    late = record_event(event_type="auth_login", username="fast")
    b_committed.set()

    # A is still open: B, stamped after A's transaction began, must wait for it.
    assert seal_pending() == 0
    a_may_commit.set()
    thread.join(30)
    assert seal_pending() == 2

    order = list(AuditEvent.objects.order_by("sequence").values_list("username", "pk"))
    assert order[1] == ("fast", late.pk)
    assert order[0][0] == "slow"
    assert verify_chain().ok


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_an_insert_still_running_holds_back_the_cutoff(user):
    # An INSERT takes its clock_timestamp() before it writes the row (and gets a
    # transaction id); the pg_sleep in between stretches that moment to a second. It
    # holds the event table's lock throughout, which is what the sealer looks for.
    started = threading.Event()

    def slow_writer():
        try:
            record_event(event_type="auth_login", username="warm")
            # The message pg_sleep(1)::text is "": MAC'd as record_event would.
            slow = AuditEvent(event_type="auth_login", category="authentication", outcome="success")
            slow.username = "slow"
            mac = writer_tag(slow, stamp=timezone.now())
            with connections["default"].cursor() as cursor:
                started.set()
                cursor.execute(
                    f'INSERT INTO "{TABLE}" ("timestamp", event_type, category, outcome, '  # noqa: S608
                    "username, user_agent, request_id, resource_type, resource_id, message, "
                    "metadata, key_id, writer_mac) VALUES (clock_timestamp(), 'auth_login', "
                    "'authentication', 'success', 'slow', '', '', '', '', "
                    "pg_sleep(1)::text, '{}', '', %s)",
                    [mac],
                )
        finally:
            connections.close_all()

    thread = threading.Thread(target=slow_writer)
    thread.start()
    assert started.wait(30)
    time.sleep(0.3)  # the slow INSERT is past its timestamp, inside pg_sleep
    record_event(event_type="auth_login", username="fast")

    # "fast" committed, but a row stamped before it may still arrive: only "warm" is.
    assert seal_pending() == 1
    thread.join(30)
    assert seal_pending() == 2
    order = list(AuditEvent.objects.order_by("sequence").values_list("username", flat=True))
    assert order == ["warm", "slow", "fast"]
    assert verify_chain().ok


def second_session() -> psycopg.Connection:
    """Open a session of its own on the test database, as psql would."""
    return psycopg.connect(**connection.get_connection_params())


def scalar_row(sql: str, params: list) -> tuple | None:
    """Return the first row of `sql` run on the test's own connection (a fresh snapshot)."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def has_written(session: psycopg.Connection) -> bool:
    """Return whether the session's open transaction holds a transaction id (has written)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT backend_xid IS NOT NULL FROM pg_stat_activity WHERE pid = %s",
            [session.info.backend_pid],
        )
        return cursor.fetchone()[0]


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_a_transaction_that_wrote_other_tables_does_not_hold_back_sealing(user):
    # The issue: a psql session holding a temp-table insert kept every new event
    # unsealed for as long as it stayed open (the sealer waited for any writer).
    idle = second_session()
    try:
        idle.execute("CREATE TEMP TABLE scratch (n int)")
        idle.execute("INSERT INTO scratch VALUES (1)")
        idle.execute("UPDATE auth_user SET last_name = 'held' WHERE id = %s", [user.pk])
        # Reading events takes a lock on their table too, but not a writer's.
        idle.execute(f'SELECT count(*) FROM "{TABLE}"')  # noqa: S608
        assert has_written(idle)  # an open writing transaction, "idle in transaction"

        first = record_event(event_type="auth_login", username="first")
        assert seal_pending() == 1
        second = record_event(event_type="auth_logout", username="second")
        assert seal_pending() == 1
    finally:
        idle.rollback()
        idle.close()
    sealed = AuditEvent.objects.filter(pk__in=[first.pk, second.pk], sequence__isnull=False)
    assert sealed.count() == 2
    assert verify_chain().ok


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_an_open_transaction_that_recorded_an_event_holds_back_later_ones_until_it_commits(
    user,
):
    # Beside it, a transaction that wrote another table, open throughout: no reason to wait.
    unrelated = second_session()
    unrelated.execute("CREATE TEMP TABLE scratch (n int)")
    unrelated.execute("INSERT INTO scratch VALUES (1)")
    record_event(event_type="auth_login", username="before")
    recorded, may_commit = threading.Event(), threading.Event()

    def slow_writer():
        try:
            with transaction.atomic():
                record_event(event_type="task_create", username="slow")
                recorded.set()
                assert may_commit.wait(30)
        finally:
            connections.close_all()

    thread = threading.Thread(target=slow_writer)
    thread.start()
    try:
        assert recorded.wait(30)
        record_event(event_type="auth_login", username="after-1")
        record_event(event_type="auth_logout", username="after-2")
        # Stamped before the slow writer began: sealed. Stamped after: wait, committed or not.
        assert seal_pending() == 1
        assert seal_pending() == 0
        assert unsealed_backlog().count == 2  # the slow writer's is not committed yet
        may_commit.set()
        thread.join(30)
        assert seal_pending() == 3
    finally:
        may_commit.set()
        thread.join(30)
        unrelated.close()

    events = AuditEvent.objects.order_by("sequence")
    assert list(events.values_list("username", flat=True)) == [
        "before",
        "slow",
        "after-1",
        "after-2",
    ]
    stamps = list(events.values_list("timestamp", flat=True))
    assert stamps == sorted(stamps)
    assert verify_chain().ok


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_an_event_insert_waiting_for_the_table_lock_is_stamped_once_it_has_it(user):
    # What the cutoff rests on: an INSERT holds the event table's lock before its
    # clock_timestamp() is read. A SHARE lock makes a writer queue for that lock.
    locker = second_session()
    locker.execute(f'LOCK TABLE "{TABLE}" IN SHARE MODE')
    stamped: list = []

    def writer():
        try:
            stamped.append(record_event(event_type="auth_login", username="queued").timestamp)
        finally:
            connections.close_all()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        waiting = (
            "SELECT activity.xact_start FROM pg_locks JOIN pg_stat_activity AS activity"
            " USING (pid) WHERE relation = %s::regclass AND NOT granted"
        )
        deadline = time.monotonic() + 30
        while (queued := scalar_row(waiting, [TABLE])) is None:
            assert time.monotonic() < deadline, "the writer never queued for the lock"
            time.sleep(0.05)
        # The queued writer counts, though it holds nothing yet.
        assert sealing_cutoff() == queued[0]
        released_at = locker.execute("SELECT clock_timestamp()").fetchone()[0]
        locker.commit()
        thread.join(30)
    finally:
        locker.close()
    assert stamped and stamped[0] >= released_at
    assert seal_pending() == 1


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_a_writer_whose_start_the_sealer_cannot_see_holds_back_every_event(user):
    # pg_stat_activity hides another role's transaction start from a login without
    # pg_read_all_stats; its events may carry any earlier stamp, so the sealer waits.
    role = "audit_test_hidden_writer"
    with connection.cursor() as cursor:
        cursor.execute(f"DROP ROLE IF EXISTS {role}")
        cursor.execute(f"CREATE ROLE {role} NOLOGIN")
    other = second_session()  # logged in as another role than the one asking below
    try:
        other.execute(f'LOCK TABLE "{TABLE}" IN ROW EXCLUSIVE MODE')  # as its INSERT would
        record_event(event_type="auth_login", username="waits")
        assert seal_pending() == 0  # to the test's own login, the other session's start shows
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL ROLE {role}")
            assert sealing_cutoff() == BEFORE_EVERY_EVENT
        other.rollback()
        assert seal_pending() == 1
    finally:
        other.close()
        with connection.cursor() as cursor:
            cursor.execute(f"DROP ROLE {role}")


@pytest.mark.sqlite  # SQLite's write lock; PostgreSQL is the test above
@pytest.mark.django_db(transaction=True)
def test_an_event_waiting_for_sqlites_write_lock_is_stamped_once_it_has_it(user):
    # B holds the write lock while A tries to record outside any transaction. Had A
    # taken its timestamp before waiting for the lock, B's later event, sealed first,
    # would precede A's earlier timestamp in the chain and verification would fail.
    b_holds_lock, a_done = threading.Event(), threading.Event()

    def writer_a():
        try:
            assert b_holds_lock.wait(30)
            record_event(event_type="auth_login", username="waited")
        finally:
            a_done.set()
            connections.close_all()

    thread = threading.Thread(target=writer_a)
    with transaction.atomic():  # IMMEDIATE: the write lock from here to the commit
        thread.start()
        b_holds_lock.set()
        assert not a_done.wait(0.5)  # A is queued on the lock, not finished
        record_event(event_type="auth_login", username="holder")
        assert seal_batch().count == 1  # sealed before A can insert
    thread.join(30)
    assert seal_pending() == 1

    order = list(AuditEvent.objects.order_by("sequence").values_list("username", flat=True))
    assert order == ["holder", "waited"]
    assert verify_chain().ok


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_only_one_sealer_takes_a_batch(user):
    record_event(event_type="auth_login", user=user)
    holding, release = threading.Event(), threading.Event()
    other = LeaseHolder(holder="other-host")
    with transaction.atomic():
        assert other.hold()  # the lease row, created once in a deployment's life

    def other_sealer():
        try:
            with transaction.atomic():
                assert other.hold()
                holding.set()
                release.wait(30)
        finally:
            connections.close_all()

    thread = threading.Thread(target=other_sealer)
    thread.start()
    assert holding.wait(30)
    assert seal_batch() is None  # the other sealer has this round
    release.set()
    thread.join(30)
    # ...and the lease, until it stops renewing it: this sealer stands by.
    assert seal_batch() is None
    assert seal_batch(lease=other).count == 1


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_unsealed_rows_are_append_only_and_links_are_filled_once(user):
    event = record_event(event_type="task_create", user=user, message="made")

    for sql in (
        f"UPDATE {TABLE} SET message = 'changed' WHERE id = %s",  # noqa: S608
        f"UPDATE {TABLE} SET sequence = 99, prev_hash = 'x', hash = 'y' WHERE id = %s",  # noqa: S608
    ):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql, [event.pk])
    with (
        pytest.raises(DatabaseError, match="only the sealer"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            f"INSERT INTO {TABLE} (sequence, timestamp, event_type, category, outcome,"  # noqa: S608
            " username, user_agent, request_id, resource_type, resource_id, message,"
            " metadata, prev_hash, hash, key_id) VALUES (5, now(), 'x', 'audit',"
            " 'success', '', '', '', '', '', '', '{}', 'a', 'b', '')"
        )

    seal_pending()
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("SET LOCAL audit.sealing = 'on'")  # what once let any session link rows
        cursor.execute(f"UPDATE {TABLE} SET hash = 'forged' WHERE id = %s", [event.pk])  # noqa: S608
    assert AuditEvent.objects.get(pk=event.pk).message == "made"
    assert verify_chain().ok


@pytest.mark.django_db(transaction=True)
def test_retention_seals_its_prune_event_and_names_its_place_in_the_chain(user, tmp_path):
    # With background sealing the command printed "recorded audit_prune event #None":
    # its event was not linked yet, and only a sealed prune counts for verification.
    append_chain(5, start=timezone.now() - timedelta(days=60))
    record_event(event_type="auth_login", username="today")
    seal_pending()
    out = io.StringIO()

    call_command(
        "audit_retention",
        "--older-than-days",
        "30",
        "--archive",
        str(tmp_path / "a.gz"),
        stdout=out,
    )

    prune = AuditEvent.objects.get(event_type="audit_prune")
    assert prune.sequence is not None
    assert f"recorded audit_prune event #{prune.sequence}." in out.getvalue()
    assert verify_chain().ok


@pytest.mark.django_db(transaction=True)
def test_head_timestamp_is_the_head_events_own_time_not_the_heads_copy(user):
    assert head_timestamp() is None
    record_event(event_type="auth_login", user=user)
    seal_pending()
    head = AuditEvent.objects.get(sequence=1)
    ChainHead.objects.filter(pk=1).update(timestamp=head.timestamp + timedelta(days=365))
    assert head_timestamp() == head.timestamp


@pytest.mark.sqlite  # PostgreSQL's timestamptz refuses such text
@pytest.mark.django_db(transaction=True)
def test_head_timestamp_is_none_when_the_head_events_time_is_not_a_date(user):
    record_event(event_type="auth_login", user=user)
    seal_pending()
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {TABLE} SET timestamp = %s WHERE sequence = 1", ["not a date"])  # noqa: S608
    assert head_timestamp() is None
