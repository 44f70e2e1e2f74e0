"""Retention: old events go to a verifiable archive, and what remains still verifies."""

import gzip
import hashlib
import json
import stat
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from audit.chain import HASHED_FIELDS
from audit.models import AuditEvent, AuditEventQuerySet
from audit.retention import PRUNE_ROLE, RetentionError, write_archive
from audit.services import record_event
from audit.tests.fixtures import sealed
from audit.tests.tamper import TABLE, append_chain, raw_sql
from audit.transparency.tree_heads import sign_tree_head
from audit.verification.archives import verify_archive
from audit.verification.checkpoint_format import write_checkpoint
from audit.verification.checkpoints import create_checkpoint
from audit.verification.verify import verify_chain

# Retention commits its own transaction and the trigger looks at SET LOCAL, so these
# tests run against real commits.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def trail():
    """Ten events from 60 days ago (#1-#10), then three from today (#11-#13)."""
    old = append_chain(10, start=timezone.now() - timedelta(days=60))
    new = sealed(record_event(event_type="auth_login", username=f"new{n}") for n in range(3))
    return old, new


@pytest.fixture
def archive(tmp_path):
    return tmp_path / "audit-2026.ndjson.gz"


def retention(*args: str) -> str:
    out = StringIO()
    call_command("audit_retention", *args, stdout=out)
    return out.getvalue()


def archived_documents(path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


def test_retention_archives_deletes_and_records_the_prune(trail, archive):
    old, _ = trail
    output = retention("--older-than-days", "30", "--archive", str(archive))

    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    assert "Archived 10 audit events #1-#10" in output
    assert f"to {archive}, sha256 {digest}" in output
    assert "Deleted them and recorded audit_prune event #14." in output
    assert list(AuditEvent.objects.order_by("sequence").values_list("sequence", flat=True)) == [
        11,
        12,
        13,
        14,
    ]
    prune = AuditEvent.objects.get(sequence=14)
    assert prune.event_type == "audit_prune"
    assert prune.category == "audit"
    assert prune.metadata["count"] == 10
    assert (prune.metadata["first_sequence"], prune.metadata["last_sequence"]) == (1, 10)
    assert prune.metadata["last_hash"] == old[-1].hash
    assert prune.metadata["archive_sha256"] == digest
    assert prune.metadata["first_timestamp"] < prune.metadata["last_timestamp"]
    assert prune.metadata["last_timestamp"] < prune.metadata["cutoff"]


def test_what_remains_verifies_from_the_prune_boundary(trail, archive):
    retention("--older-than-days", "30", "--archive", str(archive))
    result = verify_chain()
    assert result.ok, result.reason
    assert (result.first_sequence, result.last_sequence, result.rows_checked) == (11, 14, 4)


def test_archive_holds_every_column_and_verifies(trail, archive):
    old, _ = trail
    retention("--older-than-days", "30", "--archive", str(archive))
    documents = archived_documents(archive)
    assert [document["sequence"] for document in documents] == list(range(1, 11))
    assert set(documents[0]) == {"id", "user_id", *HASHED_FIELDS, "hash", "key_id"}
    assert [document["hash"] for document in documents] == [event.hash for event in old]
    assert documents[0]["metadata"] == {"n": 1, "note": "ünïcode ✓"}
    assert documents[3]["prev_hash"] == documents[2]["hash"]
    # It holds usernames and addresses: readable by the owner only.
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    result = verify_archive(archive)
    assert result.ok
    assert result.rows_checked == 10
    assert "recorded by audit_prune event #14" in result.reason


def test_verify_archive_command(trail, archive):
    retention("--older-than-days", "30", "--archive", str(archive))
    out = StringIO()
    call_command("verify_audit_chain", "--archive", str(archive), stdout=out)
    assert f"Checked 10 archived audit events in {archive} (#1-#10)" in out.getvalue()
    assert "OK: archive intact; recorded by audit_prune event #14." in out.getvalue()


def test_tampered_archive_is_named(trail, archive, tmp_path):
    retention("--older-than-days", "30", "--archive", str(archive))
    documents = archived_documents(archive)
    documents[2]["message"] = "edited in the archive"
    forged = tmp_path / "forged.ndjson.gz"
    with gzip.open(forged, "wt", encoding="utf-8") as handle:
        handle.writelines(json.dumps(document) + "\n" for document in documents)
    with pytest.raises(CommandError, match="broken at #3: #3 hash mismatch") as caught:
        call_command("verify_audit_chain", "--archive", str(forged), stdout=StringIO())
    assert caught.value.returncode == 1


def test_archive_with_a_row_removed_is_named(trail, archive, tmp_path):
    retention("--older-than-days", "30", "--archive", str(archive))
    documents = archived_documents(archive)
    del documents[4]
    forged = tmp_path / "short.ndjson.gz"
    with gzip.open(forged, "wt", encoding="utf-8") as handle:
        handle.writelines(json.dumps(document) + "\n" for document in documents)
    result = verify_archive(forged)
    assert result.first_bad_sequence == 5


def test_unreadable_archive_is_reported(tmp_path):
    bogus = tmp_path / "bogus.ndjson.gz"
    bogus.write_bytes(b"this is not gzip")
    result = verify_archive(bogus)
    assert not result.ok
    assert "unreadable" in result.reason


def test_dry_run_changes_nothing(trail, archive):
    output = retention("--older-than-days", "30", "--archive", str(archive), "--dry-run")
    assert "Dry run: would archive and delete 10 audit events #1-#10" in output
    assert AuditEvent.objects.count() == 13
    assert not archive.exists()


def test_dry_run_needs_no_archive(trail):
    assert "would archive and delete 10" in retention("--older-than-days", "30", "--dry-run")


def test_nothing_old_enough(trail, archive):
    output = retention("--older-than-days", "90", "--archive", str(archive))
    assert "No audit events older than" in output
    assert AuditEvent.objects.count() == 13
    assert not archive.exists()


def test_an_existing_archive_is_never_overwritten(trail, archive):
    archive.write_bytes(b"an older archive")
    with pytest.raises(CommandError, match="already exists"):
        retention("--older-than-days", "30", "--archive", str(archive))
    assert archive.read_bytes() == b"an older archive"
    assert AuditEvent.objects.count() == 13


def test_archive_name_taken_while_writing_is_not_overwritten(trail, archive):
    # Another run claimed the name after prune_events checked it.
    archive.write_bytes(b"theirs")
    with pytest.raises(RetentionError, match="already exists"):
        write_archive(archive, first=1, last=10)
    assert archive.read_bytes() == b"theirs"
    assert list(archive.parent.iterdir()) == [archive]  # our temporary file is gone


def test_archive_is_required_and_days_must_be_positive(trail):
    with pytest.raises(CommandError, match="--archive is required"):
        retention("--older-than-days", "30")
    with pytest.raises(CommandError, match="not a positive integer"):
        retention("--older-than-days", "0", "--dry-run")


def test_a_broken_chain_is_not_pruned(trail, archive):
    raw_sql("UPDATE {table} SET message = 'x' WHERE sequence = 5")
    with pytest.raises(CommandError, match="Refusing to prune: the chain is broken at #5"):
        retention("--older-than-days", "30", "--archive", str(archive))
    assert AuditEvent.objects.count() == 13
    assert list(archive.parent.iterdir()) == []  # no archive, no partial file


def test_deletions_after_a_prune_are_still_named(trail, archive):
    retention("--older-than-days", "30", "--archive", str(archive))
    raw_sql("DELETE FROM {table} WHERE sequence = 12")
    assert verify_chain().first_bad_sequence == 12


def test_deleting_the_oldest_remaining_row_is_named(trail, archive):
    retention("--older-than-days", "30", "--archive", str(archive))
    raw_sql("DELETE FROM {table} WHERE sequence = 11")
    result = verify_chain()
    assert result.first_bad_sequence == 11
    assert "no audit_prune event accounts for" in result.reason


def test_oldest_remaining_row_must_follow_the_pruned_hash(trail, archive):
    retention("--older-than-days", "30", "--archive", str(archive))
    raw_sql("UPDATE {table} SET prev_hash = %s WHERE sequence = 11", ["d" * 64])
    result = verify_chain()
    assert result.first_bad_sequence == 11
    assert "last pruned hash" in result.reason


def test_a_second_prune_moves_the_boundary(tmp_path):
    append_chain(10, start=timezone.now() - timedelta(days=60))
    append_chain(5, start=timezone.now() - timedelta(days=20))
    record_event(event_type="auth_login")
    retention("--older-than-days", "30", "--archive", str(tmp_path / "first.ndjson.gz"))
    retention("--older-than-days", "10", "--archive", str(tmp_path / "second.ndjson.gz"))
    result = verify_chain()
    assert result.ok, result.reason
    assert result.first_sequence == 16
    assert [d["sequence"] for d in archived_documents(tmp_path / "second.ndjson.gz")] == list(
        range(11, 16)
    )


def test_a_pruned_checkpoint_verifies_only_with_its_archive(tmp_path, settings):
    append_chain(10, start=timezone.now() - timedelta(days=60))
    checkpoint_path = tmp_path / "checkpoint.json"
    write_checkpoint(create_checkpoint(), checkpoint_path)
    sealed([record_event(event_type="auth_login")])
    archive_path = tmp_path / "a.ndjson.gz"
    retention("--older-than-days", "30", "--archive", str(archive_path))
    # Without the archive: a non-zero exit naming the archive it needs.
    out = StringIO()
    with pytest.raises(CommandError, match=r"--archive a\.ndjson\.gz") as refused:
        call_command("verify_audit_chain", "--checkpoint", str(checkpoint_path), stdout=out)
    assert refused.value.returncode == 1
    assert "falls in #1-#10, pruned by audit_prune #12" in out.getvalue()
    # With it: the checkpointed link is found in the archive the prune recorded.
    out = StringIO()
    call_command(
        "verify_audit_chain",
        "--checkpoint",
        str(checkpoint_path),
        "--archive",
        str(archive_path),
        stdout=out,
    )
    assert "checkpoint.json #10 of" in out.getvalue()
    assert "matches in a.ndjson.gz" in out.getvalue()
    # The stored copy of that checkpoint does not make plain verification fail (against
    # a directory holding a signed tree head over the pruned trail).
    settings.AUDIT_CHECKPOINT_DIR = str(tmp_path / "tree-heads")
    sign_tree_head()
    call_command("verify_audit_chain", stdout=StringIO())
    # And a new checkpoint can be made over the pruned trail.
    assert create_checkpoint().sequence == 12


def test_an_archive_other_than_the_recorded_one_is_refused(tmp_path):
    append_chain(10, start=timezone.now() - timedelta(days=60))
    checkpoint_path = tmp_path / "checkpoint.json"
    write_checkpoint(create_checkpoint(), checkpoint_path)
    # The head's own event stays: one more, so that the checkpoint's event is pruned.
    append_chain(1, start=timezone.now() - timedelta(days=59))
    retention("--older-than-days", "30", "--archive", str(tmp_path / "a.ndjson.gz"))
    other = tmp_path / "other.ndjson.gz"
    other.write_bytes(b"")
    with pytest.raises(CommandError, match=r"--archive a\.ndjson\.gz"):
        call_command(
            "verify_audit_chain",
            "--checkpoint",
            str(checkpoint_path),
            "--archive",
            str(other),
            stdout=StringIO(),
        )


@pytest.mark.postgresql  # the append-only trigger is PostgreSQL-only
def test_retention_leaves_deletes_refused_afterwards(trail, archive):
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        (role,) = cursor.fetchone()
    retention("--older-than-days", "30", "--archive", str(archive))
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        assert cursor.fetchone()[0] == role
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(f"DELETE FROM {TABLE} WHERE sequence = 11")  # noqa: S608
    assert AuditEvent.objects.count() == 4


@pytest.mark.postgresql
def test_retention_deletes_as_the_prune_role_and_records_the_prune_as_itself(
    trail, archive, monkeypatch
):
    roles = []
    real_delete = AuditEventQuerySet._retention_delete

    def noting_the_role(queryset):
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_user")
            roles.append(cursor.fetchone()[0])
        return real_delete(queryset)

    monkeypatch.setattr(AuditEventQuerySet, "_retention_delete", noting_the_role)
    retention("--older-than-days", "30", "--archive", str(archive))
    assert roles == [PRUNE_ROLE]
    [prune] = AuditEvent.objects.filter(event_type="audit_prune")
    assert (prune.metadata["count"], prune.sequence) == (10, 14)
    assert verify_chain().ok


@pytest.mark.postgresql
def test_retention_without_the_prune_role_deletes_nothing_and_says_why(trail, archive, monkeypatch):
    # As for a login that is not a member of the role (or a cluster where it was never
    # created): switching to it fails, and nothing is deleted or left behind.
    monkeypatch.setattr("audit.retention.PRUNE_ROLE", "audit_no_such_role")
    with pytest.raises(CommandError, match="Cannot act as the database role audit_no_such_role"):
        retention("--older-than-days", "30", "--archive", str(archive))
    assert AuditEvent.objects.count() == 13
    assert not AuditEvent.objects.filter(event_type="audit_prune").exists()
    assert not archive.exists()
