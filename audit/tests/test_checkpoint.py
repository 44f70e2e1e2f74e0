"""Signed checkpoints: made from a verified chain, refused when forged, and they catch
what the chain alone cannot (the newest rows removed together with the head)."""

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from audit.chain import canonical_timestamp, key_ring
from audit.models import AuditCheckpoint, ChainHead
from audit.services import record_event
from audit.tests.fixtures import sealed
from audit.tests.tamper import hash_of, raw_sql, rehash_from
from audit.verification.checkpoint_format import (
    CheckpointError,
    checkpoint_json,
    parse_checkpoint,
    sign,
)
from audit.verification.checkpoints import create_checkpoint, latest_checkpoint
from audit.verification.verify import verify_chain


@pytest.fixture
def events(db):
    return sealed(record_event(event_type="task_create", resource_id=n) for n in range(1, 9))


@pytest.fixture
def checkpoint_file(events, tmp_path):
    """A checkpoint of #8 written by the command."""
    path = tmp_path / "checkpoint.json"
    call_command("audit_checkpoint", "--output", str(path), stdout=StringIO())
    return path


def run(command: str, *args: str) -> str:
    out = StringIO()
    call_command(command, *args, stdout=out)
    return out.getvalue()


def refused(*args: str) -> tuple[CommandError, str]:
    out = StringIO()
    with pytest.raises(CommandError) as caught:
        call_command("verify_audit_chain", *args, stdout=out)
    return caught.value, out.getvalue()


def rewind_head_to(sequence: int) -> None:
    """Move the chain head back as someone covering a truncation would."""
    ChainHead.objects.filter(pk=1).update(sequence=sequence, hash=hash_of(sequence))


# --- Making checkpoints ----------------------------------------------------------


def test_checkpoint_to_stdout_is_signed_json_of_the_newest_link(events, settings):
    document = json.loads(run("audit_checkpoint"))
    assert document["version"] == 1
    assert document["sequence"] == 8
    assert document["hash"] == events[-1].hash
    assert document["signature"] == sign(
        sequence=8, hash=events[-1].hash, created_at=document["created_at"]
    )
    assert document["created_at"].endswith("Z")


def test_checkpoint_signature_uses_the_audit_key_not_secret_key(events, settings):
    checkpoint = create_checkpoint()
    settings.SECRET_KEY = "rotated-" + "s" * 50
    assert checkpoint.is_signed_correctly()
    settings.AUDIT_SIGNING_KEY = "another-" + "k" * 50
    assert not checkpoint.is_signed_correctly()


def test_checkpoint_file_is_written_and_recorded_for_a_dashboard(checkpoint_file, events):
    document = json.loads(checkpoint_file.read_text())
    assert document["sequence"] == 8
    recorded = latest_checkpoint()
    assert recorded is not None
    assert (recorded.sequence, recorded.hash, recorded.signature) == (
        8,
        events[-1].hash,
        document["signature"],
    )
    assert canonical_timestamp(recorded.created_at) == document["created_at"]


def test_command_reports_where_it_wrote(events, tmp_path):
    path = tmp_path / "cp.json"
    output = run("audit_checkpoint", "--output", str(path))
    assert f"Checkpoint #8 ({events[-1].hash[:16]}…)" in output
    assert str(path) in output


def test_latest_checkpoint_is_the_newest(events):
    create_checkpoint()
    sealed([record_event(event_type="auth_logout")])
    create_checkpoint()
    assert latest_checkpoint().sequence == 9
    assert AuditCheckpoint.objects.count() == 2


def test_empty_trail_has_nothing_to_checkpoint(db):
    with pytest.raises(CommandError, match="empty"):
        call_command("audit_checkpoint", stdout=StringIO())
    assert latest_checkpoint() is None


def test_a_broken_chain_is_never_signed(events):
    raw_sql("UPDATE {table} SET message = 'x' WHERE sequence = 3")
    with pytest.raises(CommandError, match="Refusing to sign a broken chain: #3"):
        call_command("audit_checkpoint", stdout=StringIO())
    assert not AuditCheckpoint.objects.exists()


def test_tampering_before_the_last_checkpoint_is_not_signed_over(events):
    create_checkpoint()
    sealed([record_event(event_type="auth_logout")])
    raw_sql("UPDATE {table} SET message = 'x' WHERE sequence = 2")
    with pytest.raises(CheckpointError, match="broken chain: #2"):
        create_checkpoint()
    assert AuditCheckpoint.objects.count() == 1


def test_next_checkpoint_checks_the_previous_one_still_holds(events):
    create_checkpoint()
    sealed([record_event(event_type="auth_logout")])
    raw_sql("UPDATE {table} SET message = 'x' WHERE sequence = 8")
    rehash_from(8, key=key_ring().signing)
    with pytest.raises(CheckpointError, match="#8 differs from signed checkpoint #8"):
        create_checkpoint()


def test_no_checkpoint_over_a_chain_shorter_than_the_last_one(events):
    create_checkpoint()
    raw_sql("DELETE FROM {table} WHERE sequence >= 7")
    rewind_head_to(6)
    with pytest.raises(CheckpointError, match="head #6 is behind the last checkpoint #8"):
        create_checkpoint()


# --- Verifying against a checkpoint ----------------------------------------------


def test_verify_with_a_checkpoint(checkpoint_file):
    sealed([record_event(event_type="auth_logout")])
    output = run("verify_audit_chain", "--checkpoint", str(checkpoint_file))
    assert "Checked 9 audit events" in output
    assert "checkpoint #8 of" in output
    assert "matches" in output


def test_checkpoint_catches_newest_rows_removed_with_the_head(checkpoint_file):
    raw_sql("DELETE FROM {table} WHERE sequence >= 6")
    rewind_head_to(5)
    # Without the checkpoint the shortened chain is self-consistent...
    assert verify_chain().ok
    # ...with it, the loss is named from its first missing event.
    error, output = refused("--checkpoint", str(checkpoint_file))
    assert error.returncode == 1
    assert "broken at #6" in str(error)
    assert "the chain head #5 is behind checkpoint.json #8" in output


def test_checkpoint_catches_a_full_rewrite(checkpoint_file):
    raw_sql("UPDATE {table} SET message = 'rewritten' WHERE sequence = 2")
    rehash_from(2, key=key_ring().signing)
    assert verify_chain().ok
    error, _ = refused("--checkpoint", str(checkpoint_file))
    assert "broken at #8" in str(error)
    assert "#8 differs from checkpoint.json #8" in str(error)


@pytest.mark.parametrize(
    "change",
    [
        {"sequence": 7},
        {"hash": "0" * 64},
        {"created_at": "2020-01-01T00:00:00.000000Z"},
        {"signature": "f" * 64},
    ],
)
def test_modified_checkpoint_is_refused(checkpoint_file, change):
    document = json.loads(checkpoint_file.read_text())
    document.update(change)
    checkpoint_file.write_text(json.dumps(document))
    error, output = refused("--checkpoint", str(checkpoint_file))
    assert error.returncode == 2
    assert "signature does not match" in str(error)
    assert output == ""  # refused before anything was checked


def test_forged_checkpoint_signed_with_another_key_is_refused(events, tmp_path, settings):
    settings.AUDIT_SIGNING_KEY = "attacker-" + "a" * 50
    forged = create_checkpoint()
    path = tmp_path / "forged.json"
    path.write_text(checkpoint_json(forged))
    settings.AUDIT_SIGNING_KEY = "the-real-" + "r" * 50
    error, _ = refused("--checkpoint", str(path))
    assert error.returncode == 2
    assert "signature does not match" in str(error)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "not JSON"),
        ("[]", "not a version 1 checkpoint"),
        ('{"version": 1, "sequence": true}', "not a positive integer"),
        ('{"version": 1, "sequence": 3, "hash": "xyz"}', "hash is not 64 hex digits"),
    ],
)
def test_malformed_checkpoint_is_refused(text, message):
    with pytest.raises(CheckpointError, match=message):
        parse_checkpoint(text)


def test_missing_checkpoint_file_is_refused(events, tmp_path):
    error, _ = refused("--checkpoint", str(tmp_path / "nowhere.json"))
    assert error.returncode == 2
    assert "Cannot read checkpoint" in str(error)
