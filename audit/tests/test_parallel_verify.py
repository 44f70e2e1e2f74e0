"""A long chain is verified by several processes, with exactly the verdict of one walk.

Each test records a short chain and lowers the threshold, so two real worker
processes (spawned interpreters on the test database) share it out. Every kind of
break is then verified both ways and the two verdicts must be identical.
"""

from concurrent.futures.process import BrokenProcessPool
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import transaction

from audit.models import AuditEvent, ChainHead
from audit.recording.client import ClientContext
from audit.services import record_event
from audit.tests.fixtures import drain_sealer, sealed
from audit.tests.tamper import raw_sql, rehash_from
from audit.transparency.tree_heads import sign_tree_head
from audit.verification import parallel, pool
from audit.verification.verify import verify_chain

pytestmark = pytest.mark.django_db(transaction=True)

PROCESSES = 2
EVENTS = 20  # two parts of ten: #1-#10, #11-#20


@pytest.fixture
def trail():
    return sealed(
        record_event(
            event_type="auth_login" if number % 2 else "task_create",
            username=f"user{number}",
            client=ClientContext("198.51.100.4", "pytest/1.0", f"r{number}"),
            message=f"Event «{number}»",
            metadata={"n": number, "nested": {"b": [1, 2.5, None], "a": "ü"}},
        )
        for number in range(1, EVENTS + 1)
    )


@pytest.fixture
def shared_out(settings, monkeypatch):
    settings.AUDIT_VERIFY_PROCESSES = PROCESSES
    monkeypatch.setattr(parallel, "PARALLEL_MIN_ROWS", 1)
    return settings


def verdict(result) -> tuple:
    return (
        result.ok,
        result.rows_checked,
        result.first_bad_sequence,
        result.reason,
        result.first_sequence,
        result.last_sequence,
    )


def both_ways(settings, **kwargs):
    """Return (shared out, one process) verdicts of the same verification."""
    shared = verify_chain(**kwargs)
    settings.AUDIT_VERIFY_PROCESSES = 1
    alone = verify_chain(**kwargs)
    settings.AUDIT_VERIFY_PROCESSES = PROCESSES
    assert (shared.processes, alone.processes) == (PROCESSES, 1)
    return shared, alone


def test_an_intact_chain_is_verified_by_the_processes(trail, shared_out):
    result = verify_chain()
    assert result.processes == PROCESSES
    assert verdict(result) == (True, EVENTS, None, "chain intact", 1, EVENTS)


def edit_a_field():
    raw_sql("UPDATE {table} SET message = 'rewritten' WHERE sequence = 15")


def delete_the_first_row_of_a_part():
    raw_sql("DELETE FROM {table} WHERE sequence = 11")


def delete_the_last_row_of_a_part():
    raw_sql("DELETE FROM {table} WHERE sequence = 10")


def rehash_a_timestamp_backwards():
    earlier = AuditEvent.objects.get(sequence=2).timestamp - timedelta(seconds=1)
    raw_sql("UPDATE {table} SET timestamp = %s WHERE sequence = 11", [earlier])
    rehash_from(11)


def break_two_parts():
    raw_sql("UPDATE {table} SET username = 'x' WHERE sequence IN (8, 15)")


def remove_the_newest_rows():
    raw_sql("DELETE FROM {table} WHERE sequence >= 18")


def move_the_head():
    ChainHead.objects.filter(pk=1).update(hash="b" * 64)


@pytest.mark.parametrize(
    "tamper, first_bad",
    [
        (edit_a_field, 15),
        (delete_the_first_row_of_a_part, 11),
        (delete_the_last_row_of_a_part, 10),
        (rehash_a_timestamp_backwards, 11),
        (break_two_parts, 8),
        (remove_the_newest_rows, 18),
        (move_the_head, EVENTS),
    ],
)
def test_processes_name_the_break_one_walk_names(trail, shared_out, tamper, first_bad):
    tamper()
    shared, alone = both_ways(shared_out)
    assert not shared.ok
    assert shared.first_bad_sequence == first_bad
    assert verdict(shared) == verdict(alone)


def test_a_range_is_shared_out_too(trail, shared_out):
    shared, alone = both_ways(shared_out, from_sequence=5, to_sequence=16)
    assert verdict(shared) == verdict(alone) == (True, 12, None, "chain intact", 5, 16)


def test_a_broken_range_start_is_named_alike(trail, shared_out):
    raw_sql("UPDATE {table} SET prev_hash = %s WHERE sequence = 5", ["c" * 64])
    shared, alone = both_ways(shared_out, from_sequence=5)
    assert (shared.ok, shared.first_bad_sequence) == (False, 5)
    assert verdict(shared) == verdict(alone)


def test_inside_a_callers_transaction_one_process_verifies(trail, shared_out):
    # Worker processes could not see rows this transaction has not committed.
    with transaction.atomic():
        record_event(event_type="auth_logout", username="late")
        drain_sealer()  # sealed in this transaction too, uncommitted
        result = verify_chain()
    assert (result.processes, result.ok, result.rows_checked) == (1, True, EVENTS + 1)


def test_a_short_chain_stays_in_one_process(trail, shared_out, monkeypatch):
    monkeypatch.setattr(parallel, "PARALLEL_MIN_ROWS", EVENTS + 1)
    assert verify_chain().processes == 1


def test_the_command_says_how_many_processes_checked(trail, shared_out):
    sign_tree_head()
    out = StringIO()
    call_command("verify_audit_chain", stdout=out)
    assert f"Checked {EVENTS} audit events (#1-#{EVENTS}) in " in out.getvalue()
    assert f" by {PROCESSES} processes" in out.getvalue()
    assert "OK: chain intact." in out.getvalue()


def test_without_working_worker_processes_one_process_verifies(trail, shared_out, monkeypatch):
    # No /dev/shm in a container, say: not a verdict on the chain.
    def no_pool(*args, **kwargs):
        raise OSError("[Errno 38] Function not implemented")

    monkeypatch.setattr(pool, "ProcessPoolExecutor", no_pool)
    result = verify_chain()
    assert (result.processes, result.ok, result.rows_checked) == (1, True, EVENTS)


def test_a_worker_killed_mid_way_is_not_a_verdict(trail, shared_out, monkeypatch):
    class KilledPool:
        def __init__(self, *args, **kwargs):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def map(self, *args):
            raise BrokenProcessPool("A process in the process pool was terminated abruptly")

    monkeypatch.setattr(pool, "ProcessPoolExecutor", KilledPool)
    raw_sql("UPDATE {table} SET message = 'rewritten' WHERE sequence = 15")
    result = verify_chain()
    assert (result.processes, result.ok, result.first_bad_sequence) == (1, False, 15)
