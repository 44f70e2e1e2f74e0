"""Chain verification: every kind of tampering is caught and named by its sequence."""

import hashlib
import json
import threading
from datetime import UTC, datetime, timedelta, timezone
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections
from django.utils import timezone as django_timezone

from audit.chain import (
    GENESIS_HASH,
    HASHED_FIELDS,
    CanonicalJSON,
    CanonicalMetadata,
    canonical_json,
    canonical_timestamp,
    event_hash,
    key_ring,
    link,
)
from audit.management.commands.verify_audit_chain import Command as VerifyCommand
from audit.models import AuditEvent, ChainHead
from audit.recording.client import ClientContext
from audit.services import record_event
from audit.tests.fixtures import drain_sealer, sealed
from audit.tests.tamper import (
    append_chain,
    event_fields,
    hash_of,
    head,
    raw_sql,
    rehash_from,
    triggers_disabled,
)
from audit.transparency.tree_heads import sign_tree_head
from audit.verification.verify import verify_chain


@pytest.fixture
def chain(db):
    """Ten events recorded through the real service, with varied fields."""
    events = []
    for number in range(1, 11):
        events.append(
            record_event(
                event_type="auth_login" if number % 2 else "task_create",
                username=f"user{number}",
                client=ClientContext(
                    ip_address="2001:db8::1" if number % 3 else "198.51.100.4",
                    user_agent="pytest/1.0",
                    request_id=f"r{number}",
                ),
                resource_type="task",
                resource_id=number,
                message=f'Event «{number}» with "quotes" and \\backslash',
                metadata={"n": number, "nested": {"b": [1, 2.5, None], "a": "ü"}},
            )
        )
    return sealed(events)


def verify_command(*args: str) -> str:
    """Run verify_audit_chain and return what it printed."""
    out = StringIO()
    call_command("verify_audit_chain", *args, stdout=out)
    return out.getvalue()


def broken_command(*args: str) -> tuple[CommandError, str]:
    """Run verify_audit_chain expecting failure; return the error and what it printed."""
    out = StringIO()
    with pytest.raises(CommandError) as caught:
        call_command("verify_audit_chain", *args, stdout=out)
    return caught.value, out.getvalue()


# --- The hash itself -----------------------------------------------------------


def reference_hash(fields: dict) -> str:
    """The chain's definition: SHA-256 of canonical JSON of the hashed fields."""
    payload = {name: fields[name] for name in HASHED_FIELDS}
    payload["timestamp"] = canonical_timestamp(payload["timestamp"])
    payload["ip_address"] = payload["ip_address"] or ""
    return hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"ip_address": None},
        {"message": 'quote " backslash \\ tab \\t newline-escaped \\u000a'},
        {"username": "名前 😀 \u2028", "user_agent": "</script><b>"},
        {"metadata": {"z": 1, "a": {"y": [1, 2.5, None, True]}, "ключ": "значение"}},
        {"timestamp": datetime(999, 1, 2, 3, 4, 5, tzinfo=UTC)},
        {"timestamp": datetime(2026, 6, 1, 12, 0, 0, 7, tzinfo=timezone(timedelta(hours=-5)))},
        {"sequence": 10**15, "prev_hash": "f" * 64},
    ],
)
def test_row_hash_is_the_canonical_json_hash(overrides):
    fields = {
        "sequence": 7,
        "timestamp": datetime(2026, 11, 26, 15, 47, 21, tzinfo=UTC),
        "event_type": "auth_login",
        "category": "authentication",
        "outcome": "success",
        "username": "alice",
        "ip_address": "203.0.113.7",
        "user_agent": "pytest",
        "request_id": "abc",
        "resource_type": "user",
        "resource_id": "1",
        "message": "",
        "metadata": {},
        "prev_hash": GENESIS_HASH,
        **overrides,
    }
    expected = reference_hash(fields)
    assert event_hash(fields) == expected
    # The sealer's and the verifier's path: the HASHED_FIELDS in order, no key.
    assert link(tuple(fields[name] for name in HASHED_FIELDS), None) == expected


def test_canonical_metadata_from_stored_text_hashes_as_the_document_does():
    document = {"z": 1, "a": {"y": [1, 2.5, None, True]}, "ключ": "значение", "q": 'x"\\'}
    stored = json.dumps(document)  # as Django's JSONField writes it: escapes, ", " and ": "
    canonical = CanonicalMetadata()(stored)
    assert isinstance(canonical, CanonicalJSON)
    assert canonical == canonical_json(document)
    fields = {name: f"{name}-value" for name in HASHED_FIELDS}
    fields.update(sequence=3, timestamp=datetime(2026, 1, 1, tzinfo=UTC), metadata=document)
    from_text = {**fields, "metadata": canonical}
    assert link(tuple(from_text[n] for n in HASHED_FIELDS), None) == reference_hash(fields)


def test_canonical_metadata_forgets_when_full_and_still_answers():
    canonical = CanonicalMetadata(size=2)
    texts = ['{"b": 1, "a": 2}', '{"c": 3}', '{"d": [4]}', '{"b": 1, "a": 2}']
    assert [canonical(text) for text in texts] == [
        '{"a":2,"b":1}',
        '{"c":3}',
        '{"d":[4]}',
        '{"a":2,"b":1}',
    ]
    assert len(canonical.known) <= 2


def test_canonical_timestamp_matches_strftime_form():
    for moment in (
        datetime(2026, 1, 1, tzinfo=UTC),
        datetime(2026, 11, 26, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=2))),
        datetime(1000, 1, 1, 0, 0, 0, 1, tzinfo=UTC),
    ):
        assert canonical_timestamp(moment) == moment.astimezone(UTC).strftime(
            "%Y-%m-%dT%H:%M:%S.%fZ"
        )


def test_metadata_that_jsonb_would_rewrite_still_verifies(db):
    # json.dumps writes 1e+16 and -0.0; PostgreSQL's jsonb reads back 10000000000000000
    # and 0.0. NaN is not JSON at all. The stored hash must still match on both DBs.
    record_event(
        event_type="task_create",
        metadata={"big": 1e16, "huge": 1.5e300, "negzero": -0.0, "nan": float("nan"), "x": 0.1},
    )
    drain_sealer()
    stored = AuditEvent.objects.get()
    assert stored.metadata["big"] == 10**16
    assert stored.metadata["nan"] == "NaN"
    assert verify_chain().ok


@pytest.mark.parametrize("address", ["::ffff:192.0.2.1", "2001:DB8:0:0:1:0:0:1", "192.0.2.1"])
def test_ip_addresses_verify_after_read_back(db, address):
    record_event(event_type="auth_login", client=ClientContext(ip_address=address))
    assert drain_sealer() == 1
    assert verify_chain().ok


# --- An intact chain -------------------------------------------------------------


def test_intact_chain_verifies(chain):
    result = verify_chain()
    assert result.ok
    assert result.rows_checked == 10
    assert (result.first_sequence, result.last_sequence) == (1, 10)
    assert result.first_bad_sequence is None


def test_empty_trail_verifies(db):
    result = verify_chain()
    assert result.ok
    assert result.rows_checked == 0


def test_small_chunks_give_the_same_verdict(chain):
    assert verify_chain(chunk_size=3).rows_checked == 10
    raw_sql("UPDATE {table} SET message = 'x' WHERE sequence = 7")
    assert verify_chain(chunk_size=3).first_bad_sequence == 7


def test_command_prints_rows_checked_and_verdict(chain):
    sign_tree_head()  # anchored outside the database, as the worker does
    output = verify_command()
    assert "Checked 10 audit events (#1-#10)" in output
    assert "OK: chain intact." in output


def test_clock_stepped_back_does_not_break_the_chain(chain, inline_sealing):
    # The newest event was stamped an hour ahead of a clock that then stepped back:
    # the next event keeps to its time. (The head event's own timestamp, which its
    # link covers; ChainHead.timestamp is only a copy, see test_attack_unsealed.)
    [ahead] = append_chain(1, start=django_timezone.now() + timedelta(hours=1))
    event = record_event(event_type="auth_logout")
    assert event.timestamp == ahead.timestamp
    assert verify_chain().ok


# --- Tampering -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("message", "nothing to see here"),
        ("username", "mallory"),
        ("event_type", "auth_logout"),
        ("ip_address", "192.0.2.99"),
        ("metadata", '{"n": 4, "nested": {}}'),
        ("timestamp", None),  # filled in below
    ],
)
def test_changed_field_is_named(chain, column, value):
    if column == "timestamp":
        value = event_fields(4)["timestamp"] + timedelta(microseconds=1)
    # The column comes from the parametrize list above, not from input.
    raw_sql(f"UPDATE {{table}} SET {column} = %s WHERE sequence = 4", [value])  # noqa: S608
    result = verify_chain()
    assert not result.ok
    assert result.first_bad_sequence == 4
    assert "hash mismatch" in result.reason
    assert result.rows_checked == 3


def test_changed_field_through_the_base_manager_is_named(chain):
    # The base manager skips the append-only queryset; on PostgreSQL only a DBA
    # without the trigger gets this far.
    with triggers_disabled():
        AuditEvent._base_manager.filter(sequence=6).update(resource_id="other")
    assert verify_chain().first_bad_sequence == 6


def test_changed_and_rehashed_row_breaks_the_next_link(chain):
    fields = event_fields(4)
    fields["message"] = "rewritten"
    raw_sql(
        "UPDATE {table} SET message = %s, hash = %s WHERE sequence = 4",
        ["rewritten", event_hash(fields, key_ring().signing)],
    )
    result = verify_chain()
    assert result.first_bad_sequence == 5
    assert "does not link to #4" in result.reason


def test_deleted_row_is_named(chain):
    raw_sql("DELETE FROM {table} WHERE sequence = 6")
    result = verify_chain()
    assert not result.ok
    assert result.first_bad_sequence == 6
    assert "#6 missing (row deleted)" in result.reason


def test_deleted_rows_are_named_by_the_first(chain):
    raw_sql("DELETE FROM {table} WHERE sequence BETWEEN 3 AND 5")
    result = verify_chain()
    assert result.first_bad_sequence == 3
    assert "#3-#5 missing" in result.reason


def test_deleted_first_rows_are_named(chain):
    raw_sql("DELETE FROM {table} WHERE sequence <= 2")
    result = verify_chain()
    assert result.first_bad_sequence == 1
    assert "no audit_prune event accounts for" in result.reason


def test_first_row_not_after_genesis_is_named(chain):
    raw_sql("UPDATE {table} SET prev_hash = %s WHERE sequence = 1", ["a" * 64])
    assert verify_chain().first_bad_sequence == 1


def test_inserted_row_past_the_head_is_named(chain):
    # A perfectly linked forgery appended without moving the head.
    append_chain(1)
    ChainHead.objects.filter(pk=1).update(sequence=10, hash=hash_of(10))
    result = verify_chain()
    assert not result.ok
    assert result.first_bad_sequence == 11
    assert "past the chain head" in result.reason


def test_inserted_row_far_past_the_head_is_named(chain):
    # Without the copied row's writer MAC, which its unique constraint keeps to one row.
    forged = {**event_fields(10), "sequence": 15, "prev_hash": hash_of(10), "writer_mac": ""}
    forged.pop("id")
    forged["hash"] = event_hash(forged, key_ring().signing)
    with triggers_disabled():  # a forger with the database's own privileges
        AuditEvent.objects.create(**forged)
    result = verify_chain()
    assert result.first_bad_sequence == 15
    assert "#15 is past the chain head #10" in result.reason


def test_inserted_row_in_the_middle_is_named(chain):
    # Make room at #5 (renumber #5..#10 upwards, newest first for the unique index),
    # then insert a forged row that links correctly to #4.
    for sequence in range(10, 4, -1):
        raw_sql("UPDATE {table} SET sequence = %s WHERE sequence = %s", [sequence + 1, sequence])
    forged = {**event_fields(4), "sequence": 5, "prev_hash": hash_of(4), "message": "forged"}
    forged.update(writer_mac="")  # the copied row's is its own (a unique constraint)
    forged.pop("id")
    forged["hash"] = event_hash(forged, key_ring().signing)
    with triggers_disabled():  # a forger with the database's own privileges
        AuditEvent.objects.create(**forged)
    result = verify_chain()
    assert not result.ok
    # The forgery itself is consistent; the chain breaks where the old #5 follows it.
    assert result.first_bad_sequence == 6
    assert "does not link to #5" in result.reason


def test_swapped_sequence_numbers_are_named(chain):
    raw_sql("UPDATE {table} SET sequence = 1000 WHERE sequence = 3")
    raw_sql("UPDATE {table} SET sequence = 3 WHERE sequence = 4")
    raw_sql("UPDATE {table} SET sequence = 4 WHERE sequence = 1000")
    result = verify_chain()
    assert result.first_bad_sequence == 3
    assert not result.ok


def test_swapped_timestamps_are_named(chain):
    third, fourth = event_fields(3)["timestamp"], event_fields(4)["timestamp"]
    raw_sql("UPDATE {table} SET timestamp = %s WHERE sequence = 3", [fourth])
    raw_sql("UPDATE {table} SET timestamp = %s WHERE sequence = 4", [third])
    assert verify_chain().first_bad_sequence == 3


def test_timestamp_running_backwards_is_named_even_when_rehashed(chain):
    earlier = event_fields(2)["timestamp"] - timedelta(seconds=1)
    raw_sql("UPDATE {table} SET timestamp = %s WHERE sequence = 6", [earlier])
    rehash_from(6, key=key_ring().signing)
    result = verify_chain()
    assert result.first_bad_sequence == 6
    assert "timestamped before #5" in result.reason


def test_truncated_newest_rows_are_named_against_the_head(chain):
    raw_sql("DELETE FROM {table} WHERE sequence >= 9")
    result = verify_chain()
    assert not result.ok
    assert result.first_bad_sequence == 9
    assert "the chain head is at #10" in result.reason


def test_head_that_disagrees_with_the_newest_row_is_named(chain):
    ChainHead.objects.filter(pk=1).update(hash="b" * 64)
    assert verify_chain().first_bad_sequence == 10


def test_missing_head_is_reported(chain):
    ChainHead.objects.all().delete()
    result = verify_chain()
    assert not result.ok
    assert "chain head row is missing" in result.reason


def test_everything_deleted_is_named(chain):
    raw_sql("DELETE FROM {table}")
    result = verify_chain()
    assert result.first_bad_sequence == 1
    assert not result.ok


def test_full_rewrite_without_the_chain_key_is_named(chain):
    # Database access alone: the links can only be recomputed as plain SHA-256.
    raw_sql("UPDATE {table} SET message = 'rewritten' WHERE sequence = 3")
    rehash_from(3)
    result = verify_chain()
    assert result.first_bad_sequence == 3
    assert "hash mismatch" in result.reason


def test_full_rewrite_as_plain_links_is_named(chain):
    raw_sql("UPDATE {table} SET message = 'rewritten' WHERE sequence = 3")
    rehash_from(3, plain=True)
    result = verify_chain()
    assert result.first_bad_sequence == 3
    assert "plain SHA-256 link after keyed links" in result.reason


def test_full_rewrite_with_the_chain_key_passes_without_a_checkpoint(chain):
    # The limit of a keyed chain alone; test_checkpoint shows a checkpoint catching it.
    raw_sql("UPDATE {table} SET message = 'rewritten' WHERE sequence = 3")
    rehash_from(3, key=key_ring().signing)
    assert verify_chain().ok


# --- Ranges ----------------------------------------------------------------------


def test_range_checks_only_its_rows(chain):
    raw_sql("UPDATE {table} SET message = 'x' WHERE sequence = 8")
    assert verify_chain(from_sequence=1, to_sequence=5).ok
    assert verify_chain(from_sequence=1, to_sequence=5).rows_checked == 5
    inside = verify_chain(from_sequence=6, to_sequence=9)
    assert inside.first_bad_sequence == 8
    assert inside.rows_checked == 2
    # #9 still links to #8's recorded hash: a range after the change is intact.
    assert verify_chain(from_sequence=9).ok


def test_range_checks_the_link_into_it(chain):
    raw_sql("DELETE FROM {table} WHERE sequence = 4")
    assert verify_chain(from_sequence=5).first_bad_sequence == 4
    raw_sql("UPDATE {table} SET prev_hash = %s WHERE sequence = 7", ["c" * 64])
    assert verify_chain(from_sequence=7, to_sequence=8).first_bad_sequence == 7


def test_range_end_that_is_missing_is_named(chain):
    raw_sql("DELETE FROM {table} WHERE sequence = 5")
    result = verify_chain(from_sequence=2, to_sequence=5)
    assert result.first_bad_sequence == 5


def test_range_command_output(chain):
    output = verify_command("--from", "3", "--to", "6")
    assert "Checked 4 audit events (#3-#6)" in output


# --- The command's exit status --------------------------------------------------


def test_broken_chain_exits_1_naming_the_first_bad_sequence(chain):
    raw_sql("UPDATE {table} SET message = 'x' WHERE sequence = 3")
    raw_sql("UPDATE {table} SET message = 'y' WHERE sequence = 7")
    error, output = broken_command()
    assert error.returncode == 1
    assert "broken at #3" in str(error)
    assert "Checked 2 audit events (#1-#2)" in output
    assert "BROKEN at #3: #3 hash mismatch" in output


def test_broken_chain_exit_status_from_the_command_line(chain):
    raw_sql("DELETE FROM {table} WHERE sequence = 5")
    with pytest.raises(SystemExit) as exited:
        VerifyCommand().run_from_argv(["manage.py", "verify_audit_chain"])
    assert exited.value.code == 1


def test_intact_chain_exits_0_from_the_command_line(chain, capsys):
    sign_tree_head()
    VerifyCommand().run_from_argv(["manage.py", "verify_audit_chain"])
    assert "OK: chain intact." in capsys.readouterr().out


def test_reversed_range_is_refused_with_status_2(chain):
    error, _ = broken_command("--from", "5", "--to", "2")
    assert error.returncode == 2


# --- Concurrency -----------------------------------------------------------------


@pytest.mark.parametrize("sealing", ["background", "inline"])
@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_build_one_unbroken_chain(settings, sealing):
    settings.AUDIT_SEALING = sealing
    writers, per_writer = 6, 15
    errors: list[BaseException] = []
    start = threading.Barrier(writers)

    def write(number: int) -> None:
        try:
            start.wait()
            for index in range(per_writer):
                record_event(
                    event_type="task_create",
                    username=f"writer{number}",
                    metadata={"writer": number, "index": index},
                )
        except BaseException as error:  # reported by the main thread
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=write, args=(number,)) for number in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    drain_sealer()  # background: the sealer's round after the writers committed
    total = writers * per_writer
    sequences = list(AuditEvent.objects.order_by("sequence").values_list("sequence", flat=True))
    assert sequences == list(range(1, total + 1))
    assert head()[0] == total
    result = verify_chain()
    assert result.ok, result.reason
    assert result.rows_checked == total
    # Each writer's own events stay in the order it wrote them.
    for number in range(writers):
        indexes = [
            metadata["index"]
            for metadata in AuditEvent.objects.filter(username=f"writer{number}")
            .order_by("sequence")
            .values_list("metadata", flat=True)
        ]
        assert indexes == list(range(per_writer))


@pytest.mark.parametrize(
    "spelling",
    [
        lambda moment: f"{moment:%Y-%m-%d %H:%M:%S.%f}+00:00",
        lambda moment: f"{moment + timedelta(hours=2):%Y-%m-%dT%H:%M:%S.%f}+02:00",
    ],
)
def test_a_timestamp_stored_in_another_spelling_verifies_as_django_reads_it(chain, spelling):
    # The same instant written by hand in another form (SQLite keeps the text): the
    # verifier reads it as Django does, so the untouched hash still matches.
    moment = AuditEvent.objects.get(sequence=4).timestamp
    raw_sql("UPDATE {table} SET timestamp = %s WHERE sequence = 4", [spelling(moment)])
    assert AuditEvent.objects.get(sequence=4).timestamp == moment
    result = verify_chain()
    assert result.ok, result.reason
    assert result.rows_checked == 10


@pytest.mark.sqlite  # PostgreSQL's timestamptz column holds no text
def test_an_unreadable_stored_timestamp_is_named_not_a_crash(chain):
    raw_sql("UPDATE {table} SET timestamp = 'the day after tomorrow' WHERE sequence = 7")
    result = verify_chain()
    assert (result.ok, result.first_bad_sequence) == (False, 7)
    assert "unreadable timestamp" in result.reason
