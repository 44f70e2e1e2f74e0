"""Attacks through unsealed rows: what someone who can write to the table but holds no
key can insert, change or remove before the sealer comes by, and what that must not buy.

Rows are inserted with raw SQL (triggers off on PostgreSQL where a DBA would turn them
off) exactly as record_event leaves an event: sequence, prev_hash and hash NULL.
"""

import json
from contextlib import contextmanager
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, connection
from django.utils import timezone

from audit.chain import GENESIS_HASH, HASHED_FIELDS, canonical_timestamp, key_ring, writer_mac
from audit.models import AuditEvent, ChainHead
from audit.recording.client import ClientContext
from audit.retention import write_archive
from audit.sealing.backlog import unsealed_backlog
from audit.sealing.batches import seal_pending
from audit.sealing.heads import HeadMoved
from audit.sealing.refusals import refusal_reason, writer_tag
from audit.services import record_event
from audit.tests.tamper import UNREADABLE_JSON, append_chain, raw_sql
from audit.transparency.tree_heads import sign_tree_head
from audit.verification.archives import file_sha256, verify_archive
from audit.verification.verify import verify_chain

INSERT = (
    "INSERT INTO {table} (timestamp, event_type, category, outcome, username, user_agent, "
    "request_id, resource_type, resource_id, message, metadata, key_id, writer_mac) "
    "VALUES (%s, %s, %s, 'success', %s, %s, %s, %s, %s, %s, %s, '', %s)"
)


def insert_unsealed(
    *,
    timestamp,
    event_type="auth_login",
    category="authentication",
    with_mac: bool = False,
    **fields,
):
    """Insert one unsealed row by hand, as an attacker at the SQL prompt would.

    `with_mac`: with the writer MAC record_event would have made at `timestamp` (as a
    writer whose clock was there, or someone holding the chain key).
    """
    values = {
        "username": "admin",
        "user_agent": "",
        "request_id": "",
        "resource_type": "",
        "resource_id": "",
        "message": "forged",
        "metadata": "{}",
        **fields,
    }
    raw_sql(
        INSERT,
        [
            timestamp,
            event_type,
            category,
            values["username"],
            values["user_agent"],
            values["request_id"],
            values["resource_type"],
            values["resource_id"],
            values["message"],
            values["metadata"],
            writer_tag(
                AuditEvent(
                    event_type=event_type,
                    category=category,
                    outcome="success",
                    ip_address=None,
                    **{name: values[name] for name in values if name != "metadata"},
                    metadata=json.loads(values["metadata"]),
                ),
                stamp=timestamp,
            )
            if with_mac
            else "",
        ],
    )


@pytest.mark.django_db(transaction=True)
def test_an_unsealed_audit_prune_does_not_vouch_for_an_archive(tmp_path):
    append_chain(5, start=timezone.now() - timedelta(days=60))
    archive = tmp_path / "audit.ndjson.gz"
    write_archive(archive, first=1, last=5, chunk_size=100)
    insert_unsealed(
        timestamp=timezone.now(),
        event_type="audit_prune",
        category="audit",
        metadata=f'{{"archive_sha256": "{file_sha256(archive)}", "last_sequence": 5}}',
    )

    result = verify_archive(archive)

    assert result.ok
    assert "no audit_prune event in this database records its SHA-256" in result.reason


def verify_command() -> tuple[int, str]:
    out = StringIO()
    try:
        call_command("verify_audit_chain", stdout=out)
    except CommandError as error:
        return error.returncode, out.getvalue() + str(error)
    return 0, out.getvalue()


@pytest.fixture
def background(settings):
    settings.AUDIT_SEALING = "background"


@pytest.mark.django_db(transaction=True)
def test_a_backdated_unsealed_row_is_not_sealed_and_verification_names_it(background):
    # Sealed in, it would have broken the chain for good ("timestamped before #2"), and
    # every later verification and automatic checkpoint with it. With a MAC that holds
    # (a writer whose clock ran three days late, a key holder): refused all the same.
    record_event(event_type="task_create", username="alice")
    record_event(event_type="task_create", username="alice")
    seal_pending()
    backdated = timezone.now() - timedelta(days=3)
    insert_unsealed(timestamp=backdated, message="backdated", with_mac=True)
    record_event(event_type="task_create", username="bob")

    seal_pending()

    forged = AuditEvent.objects.get(message="backdated")
    assert forged.sequence is None
    assert AuditEvent.objects.get(username="bob").sequence == 3
    assert verify_chain().ok
    code, output = verify_command()
    assert code == 1, output
    assert f"unsealed event id {forged.pk} is stamped before the chain head #3" in output
    assert "1 unsealed event the sealer will not link" in output
    assert unsealed_backlog().refused == 1
    assert unsealed_backlog().count == 0  # nothing waits: no "is a sealer running?"


@pytest.mark.django_db(transaction=True)
def test_the_dashboard_flags_a_row_the_sealer_will_not_link(background, admin_client):
    record_event(event_type="task_create", username="alice")
    seal_pending()
    insert_unsealed(timestamp=timezone.now() - timedelta(days=3), message="backdated")

    page = admin_client.get("/admin/dashboard/")

    assert page.status_code == 200
    assert "1 unsealed row is stamped before the chain head" in page.content.decode()


@pytest.mark.sqlite  # PostgreSQL's timestamptz refuses such text
@pytest.mark.django_db(transaction=True)
def test_an_unsealed_row_with_an_impossible_timestamp_is_refused(background, client_for, make_user):
    # SQLite keeps any text. "19:32:60" sorts like a time, passes the canonical text's
    # pattern and, sealed, made every listing of the trail a 500 (and the sealer, or
    # verify_audit_chain's backlog line, died on it with a traceback).
    record_event(event_type="task_create", username="alice")
    seal_pending()
    head = AuditEvent.objects.get(sequence=1).timestamp
    impossible = (head - timedelta(seconds=head.second)).strftime("%Y-%m-%d %H:%M:60")
    insert_unsealed(timestamp=impossible, message="impossible")
    record_event(event_type="task_create", username="bob")

    seal_pending()

    assert AuditEvent.objects.filter(message="impossible", sequence__isnull=True).exists()
    assert AuditEvent.objects.get(username="bob").sequence == 2
    code, output = verify_command()
    assert code == 1, output
    assert "is not a date and time" in output or "stamped before the chain head" in output
    staff = client_for(make_user(username="root", staff=True, superuser=True))
    assert staff.get("/admin/audit/auditevent/").status_code == 200
    assert staff.get("/api/v2/admin/audit-logs").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_an_unsealed_row_whose_metadata_cannot_be_read_does_not_stop_the_sealer(
    background, client_for, make_user
):
    # One INSERT, no key: metadata the database takes for JSON and Python's json does not
    # read. The sealer raised at it every round, so no event recorded after it was ever
    # sealed, and verify_audit_chain died on it too instead of naming it.
    record_event(event_type="task_create", username="alice")
    seal_pending()
    insert_unsealed(timestamp=timezone.now(), metadata=UNREADABLE_JSON, message="unreadable")
    record_event(event_type="task_create", username="bob")

    seal_pending()

    # Not .get(): the model's JSONField cannot read that metadata either.
    forged, sequence = AuditEvent.objects.values_list("pk", "sequence").get(message="unreadable")
    assert sequence is None
    assert AuditEvent.objects.get(username="bob").sequence == 2
    code, output = verify_command()
    assert code == 1, output
    assert f"unsealed event id {forged} has metadata that is no readable JSON" in output
    staff = client_for(make_user(username="root", staff=True, superuser=True))
    assert staff.get("/admin/dashboard/").status_code == 200


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "moved",
    [{"hash": "b" * 64}, {"sequence": 1}, {"sequence": 5}],
    ids=["another hash", "an older sequence", "a sequence ahead"],
)
def test_a_moved_chain_head_stops_sealing_rather_than_break_the_chain(background, moved):
    # ChainHead has no trigger: any role that may write the tables can move it. The
    # sealer linked the next event to the moved hash (or numbered it after the moved
    # sequence), and the chain stayed broken there for good.
    for username in ("alice", "bob"):
        record_event(event_type="task_create", username=username)
    seal_pending()
    genuine = ChainHead.objects.values("sequence", "hash").get(pk=1)
    ChainHead.objects.filter(pk=1).update(**moved)
    record_event(event_type="task_create", username="carol")

    with pytest.raises(HeadMoved, match="the newest sealed event is #2"):
        seal_pending()
    with pytest.raises(CommandError, match="Not sealing: the chain head names"):
        call_command("audit_sealer", "--once", stderr=StringIO())

    assert AuditEvent.objects.get(username="carol").sequence is None
    ChainHead.objects.filter(pk=1).update(**genuine)  # put back: sealing goes on, whole
    assert seal_pending() == 1
    assert AuditEvent.objects.get(username="carol").sequence == 3
    assert verify_chain().ok


@pytest.mark.django_db(transaction=True)
def test_a_moved_chain_head_timestamp_stamps_nothing_in_the_future():
    # ChainHead.timestamp is a copy any database writer can move; the locked design
    # stamped every later event with it, and the chain verified.
    record_event(event_type="task_create", username="alice")
    forged = timezone.now() + timedelta(days=365 * 70)
    ChainHead.objects.filter(pk=1).update(timestamp=forged)

    event = record_event(event_type="task_create", username="bob")

    assert event.timestamp < forged
    assert AuditEvent.objects.get(pk=event.pk).timestamp < forged


@pytest.mark.django_db(transaction=True)
def test_a_moved_chain_head_timestamp_does_not_stop_the_sealer(background):
    record_event(event_type="task_create", username="alice")
    seal_pending()
    ChainHead.objects.filter(pk=1).update(timestamp=timezone.now() + timedelta(days=365 * 70))
    record_event(event_type="task_create", username="bob")

    assert seal_pending() == 1
    assert verify_chain().ok


@pytest.mark.sqlite  # PostgreSQL stamps with its own clock
@pytest.mark.django_db(transaction=True)
def test_an_event_recorded_after_a_clock_step_back_is_stamped_after_the_head(background):
    # The head event was stamped an hour ahead (a clock then stepped back): the next
    # event is stamped no earlier, so it is sealed in order (once that hour has passed)
    # instead of being refused, or breaking the chain, as stamped before the head.
    append_chain(1, start=timezone.now() + timedelta(hours=1))
    head = AuditEvent.objects.get(sequence=1).timestamp

    event = record_event(event_type="task_create", username="bob")

    assert event.timestamp >= head
    assert AuditEvent.objects.get(pk=event.pk).timestamp >= head


@pytest.mark.django_db(transaction=True)
def test_the_admin_lists_only_sealed_events_as_the_api_does(background, client_for, make_user):
    # Unsealed rows are anyone's INSERT until the sealer has vetted and linked them.
    insert_unsealed(timestamp=timezone.now(), username="mallory", message="forged-by-sql")
    staff = client_for(make_user(username="root", staff=True, superuser=True))

    listing = staff.get("/admin/audit/auditevent/", {"q": "mallory"})

    assert listing.status_code == 200
    assert "forged-by-sql" not in listing.content.decode()
    assert staff.get("/api/v2/admin/audit-logs", {"username": "mallory"}).json()["results"] == []


@pytest.mark.django_db(transaction=True)
def test_a_forged_unsealed_event_stamped_now_is_not_sealed(background):
    # No key, one INSERT: "admin signed in from 203.0.113.9". Stamped like any fresh
    # event, nothing but a MAC only record_event can make tells it from a real one.
    record_event(event_type="task_create", username="alice")
    insert_unsealed(timestamp=timezone.now(), message="forged login", user_agent="curl")
    record_event(event_type="task_create", username="bob")

    seal_pending()

    forged = AuditEvent.objects.get(message="forged login")
    assert forged.sequence is None
    sealed = AuditEvent.objects.filter(sequence__isnull=False).order_by("sequence")
    assert list(sealed.values_list("username", flat=True)) == ["alice", "bob"]
    assert verify_chain().ok
    code, output = verify_command()
    assert code == 1, output
    assert f"unsealed event id {forged.pk} has no writer MAC" in output


@pytest.mark.django_db(transaction=True)
def test_an_event_changed_before_it_is_sealed_is_not_sealed(background):
    # Between its commit and the sealer's round, a DBA (triggers off) edits the event.
    event = record_event(event_type="user_delete", username="admin", resource_id="bob")
    raw_sql("UPDATE {table} SET username = 'mallory' WHERE id = %s", [event.pk])

    seal_pending()

    assert AuditEvent.objects.get(pk=event.pk).sequence is None
    code, output = verify_command()
    assert code == 1, output
    assert f"unsealed event id {event.pk} has a writer MAC that does not match" in output


@pytest.mark.django_db(transaction=True)
def test_a_copied_event_stamped_later_is_not_sealed(background):
    # An event recorded two hours ago, MAC and all, inserted again as a fresh row: the
    # MAC holds the time its writer recorded it, and the copy is stamped far from that.
    recorded = timezone.now() - timedelta(hours=2)
    original = AuditEvent(
        event_type="auth_login", category="authentication", outcome="success", username="bob"
    )
    raw_sql(
        "INSERT INTO {table} (timestamp, event_type, category, outcome, username, user_agent, "
        "request_id, resource_type, resource_id, message, metadata, key_id, writer_mac) "
        "VALUES (%s, 'auth_login', 'authentication', 'success', 'bob', '', '', '', '', '', "
        "'{}', '', %s)",
        [timezone.now(), writer_tag(original, stamp=recorded)],
    )
    copy = AuditEvent.objects.get()

    seal_pending()

    assert AuditEvent.objects.get(pk=copy.pk).sequence is None
    code, output = verify_command()
    assert code == 1, output
    assert f"unsealed event id {copy.pk} is stamped 7,2" in output
    assert "from when its writer recorded it" in output


@pytest.mark.django_db(transaction=True)
def test_genuine_events_with_hostile_fields_carry_a_writer_mac_that_holds(background):
    # The MAC is made from the values before the INSERT and checked against what the
    # database gives back: every field must come back as it went in.
    record_event(
        event_type="file_upload",
        outcome="failure",
        username="  Ünï\u202ecode\x1b[31m ",
        message="x" * 600,
        resource_id=12345,
        client=ClientContext(
            ip_address="2001:DB8::0:1", user_agent="Mo\u0000zilla\n", request_id="r"
        ),
        metadata={"f": 1.0, "big": 1e16, "neg": -0.0, "nan": float("nan"), "n": [None, True]},
    )

    assert seal_pending() == 1
    sign_tree_head()
    assert verify_command()[0] == 0


COPY_COLUMNS = (
    "timestamp, event_type, category, outcome, username, ip_address, user_agent, request_id, "
    "resource_type, resource_id, message, metadata, key_id, writer_mac"
)


def insert_copy_of(event_id: int) -> None:
    """INSERT a copy of a row, writer MAC and stamp and all, as a DBA would.

    The same stamp: a copy the sealer then links on both databases (SQLite's rows
    carry their writer's reading as their stamp, and one moved since is refused).
    """
    raw_sql(
        f"INSERT INTO {{table}} ({COPY_COLUMNS}) "  # noqa: S608
        f"SELECT {COPY_COLUMNS} FROM {{table}} WHERE id = %s",
        [event_id],
    )


@contextmanager
def writer_macs_not_unique(*, original: int):
    """Drop the unique constraint on writer MACs for the block, as the table's owner could."""
    constraint = next(
        c for c in AuditEvent._meta.constraints if c.name == "audit_one_row_per_writer_mac"
    )
    with connection.schema_editor() as editor:
        editor.remove_constraint(AuditEvent, constraint)
    try:
        yield
    finally:
        # The copies go, so that the constraint can be made again.
        raw_sql("DELETE FROM {table} WHERE id > %s", [original])
        with connection.schema_editor() as editor:
            editor.add_constraint(AuditEvent, constraint)


@pytest.mark.django_db(transaction=True)
def test_a_copy_of_a_genuine_row_is_refused_at_its_insert(background):
    # Within a minute of the original, MAC and all, the copy used to be linked: the
    # same event twice. Genuine events never share a MAC; the database refuses a repeat.
    event = record_event(event_type="auth_login", username="bob")
    seal_pending()
    sign_tree_head()
    with pytest.raises(IntegrityError):
        insert_copy_of(event.pk)
    assert AuditEvent.objects.count() == 1
    assert verify_command()[0] == 0


def test_genuine_events_of_the_same_fields_and_instant_have_writer_macs_of_their_own(db):
    # Two hosts, or a clock stepped back (every event stamped at the head's time): the
    # same fields at the same microsecond. The nonce keeps their MACs apart, and both hold.
    event = AuditEvent(
        event_type="auth_login", category="authentication", outcome="success", username="bob"
    )
    stamp = timezone.now()
    tags = {writer_tag(event, stamp=stamp) for _ in range(1000)}
    assert len(tags) == 1000
    event.timestamp = stamp
    fields = [getattr(event, name) for name in HASHED_FIELDS]
    fields[HASHED_FIELDS.index("timestamp")] = canonical_timestamp(stamp)
    head = (0, GENESIS_HASH, None, "")
    assert all(refusal_reason(fields, tag, head=head, ring=key_ring()) is None for tag in tags)


@pytest.mark.django_db(transaction=True)
def test_without_the_unique_constraint_verification_names_each_copy(background):
    event = record_event(event_type="auth_login", username="bob")
    seal_pending()
    with writer_macs_not_unique(original=event.pk):
        insert_copy_of(event.pk)
        copy = AuditEvent.objects.exclude(pk=event.pk).get()
        code, output = verify_command()
        assert code == 1, output
        assert f"unsealed event id {copy.pk} repeats the writer MAC of event id {event.pk}" in (
            output
        )
        # Linked (stamped within a minute of the original): the chain names it.
        seal_pending()
        assert AuditEvent.objects.get(pk=copy.pk).sequence == 2
        code, output = verify_command()
        assert code == 1, output
        assert "BROKEN at #2: #2 repeats the writer MAC of #1" in output
        assert "audit_one_row_per_writer_mac is gone" in output


@pytest.mark.django_db(transaction=True)
def test_a_copy_whose_writer_mac_is_spelled_otherwise_is_not_sealed(background):
    # A tag written before nonces, "<key id> <clock> <MAC>", read the same with a second
    # space before its MAC (an empty nonce), yet is another string: the unique index let
    # the copy in, and the sealer linked it, the same event twice. A tag is read only as
    # written: one space between non-empty fields.
    stamp = timezone.now()
    event = AuditEvent(
        event_type="auth_login", category="authentication", outcome="success", username="bob"
    )
    key = key_ring().signing
    values = [getattr(event, name) for name in HASHED_FIELDS]
    values[HASHED_FIELDS.index("timestamp")] = canonical_timestamp(stamp)
    values[HASHED_FIELDS.index("sequence")], values[HASHED_FIELDS.index("prev_hash")] = 0, ""
    legacy = f"{key.key_id} {canonical_timestamp(stamp)} {writer_mac(tuple(values), key)}"
    row = [stamp, "auth_login", "authentication", "bob", "", "", "", "", "", "{}"]
    raw_sql(INSERT, [*row, legacy])
    assert seal_pending() == 1  # the genuine event, recorded before nonces
    first, _clock, rest = legacy.split(" ")
    raw_sql(INSERT, [*row, f"{first} {_clock}  {rest}"])
    copy = AuditEvent.objects.filter(sequence__isnull=True).get()

    seal_pending()

    assert AuditEvent.objects.get(pk=copy.pk).sequence is None
    code, output = verify_command()
    assert code == 1, output
    assert f"unsealed event id {copy.pk} has no writer MAC" in output


@pytest.mark.django_db(transaction=True)
def test_the_unique_index_migration_names_rows_that_repeat_a_writer_mac(background):
    # Migration 0024 cannot make the index over rows that already share a MAC: it names
    # them, the oldest first, and stops, instead of failing on the index's own error.
    from importlib import import_module

    from django.apps import apps

    migration = import_module("audit.migrations.0024_one_row_per_writer_mac")
    event = record_event(event_type="auth_login", username="bob")
    seal_pending()
    with writer_macs_not_unique(original=event.pk):
        insert_copy_of(event.pk)
        copy = AuditEvent.objects.exclude(pk=event.pk).get()
        with (
            connection.schema_editor() as editor,
            pytest.raises(migration.RepeatedWriterMac, match=rf"\[\[{event.pk}, {copy.pk}\]\]"),
        ):
            migration.refuse_repeated_macs(apps, editor)
    with connection.schema_editor() as editor:
        migration.refuse_repeated_macs(apps, editor)  # nothing repeats: it lets the index be made
