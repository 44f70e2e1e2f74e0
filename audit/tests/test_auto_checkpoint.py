"""Automatic checkpoints made by the worker, and verification against every stored one."""

import json
import logging
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from audit.chain import key_ring
from audit.models import AuditCheckpoint, AuditEvent, ChainHead
from audit.services import record_event
from audit.tests.fixtures import drain_sealer
from audit.tests.tamper import hash_of, raw_sql, rehash_from
from audit.verification.checkpoint_format import write_checkpoint
from audit.verification.checkpoints import checkpoint_due, create_checkpoint
from audit.worker_duties import check_once


def record(count: int) -> None:
    """Record events and seal them, as the sealer's next round would."""
    for number in range(count):
        record_event(event_type="task_create", resource_id=number)
    drain_sealer()


def run_worker() -> None:
    call_command("ocr_worker", "--batch", "--no-startup-delay", "--no-reload", verbosity=0)


def verify(*args: str) -> str:
    out = StringIO()
    call_command("verify_audit_chain", *args, stdout=out)
    return out.getvalue()


def refused(*args: str) -> str:
    out = StringIO()
    with pytest.raises(CommandError) as caught:
        call_command("verify_audit_chain", *args, stdout=out)
    assert caught.value.returncode == 1
    return out.getvalue() + str(caught.value)


@pytest.fixture
def every_three(settings, tmp_path):
    settings.AUDIT_CHECKPOINT_EVERY_EVENTS = 3
    settings.AUDIT_CHECKPOINT_EVERY_MINUTES = 5
    settings.AUDIT_CHECKPOINT_DIR = str(tmp_path / "checkpoints")
    return tmp_path / "checkpoints"


def test_a_checkpoint_is_due_every_n_events_or_m_minutes(db, every_three):
    assert not checkpoint_due()  # nothing to sign
    record(1)
    assert checkpoint_due()  # the first one
    create_checkpoint()
    record(2)
    assert not checkpoint_due()
    later = timezone.now() + timedelta(minutes=5)
    assert checkpoint_due(now=later)  # grown, and five minutes on
    record(1)
    assert checkpoint_due()  # three events on
    create_checkpoint()
    assert not checkpoint_due(now=timezone.now() + timedelta(hours=1))  # nothing new


# The worker closes the connection between rounds, as it does in production.
@pytest.mark.django_db(transaction=True)
def test_the_worker_signs_stores_publishes_and_writes_the_checkpoint(every_three, audit_stream):
    record(4)
    run_worker()
    stored = AuditCheckpoint.objects.get()
    assert (stored.sequence, stored.hash) == (4, hash_of(4))
    published = [json.loads(line) for line in audit_stream() if "audit_checkpoint" in line]
    assert [document["audit_checkpoint"]["sequence"] for document in published] == [4]
    assert published[0]["audit_checkpoint"]["signature"] == stored.signature
    files = sorted(every_three.glob("checkpoint-*.json"))
    assert [json.loads(path.read_text())["sequence"] for path in files] == [4]
    run_worker()
    assert AuditCheckpoint.objects.count() == 1  # not due again without new events


def test_the_worker_refuses_to_sign_a_broken_chain_and_keeps_working(db, every_three, caplog):
    record(4)
    raw_sql("UPDATE {table} SET message = 'x' WHERE sequence = 2")
    with caplog.at_level(logging.ERROR, logger="audit_checkpoints"):
        check_once()
    assert "Audit checkpoint refused" in caplog.text
    assert "#2" in caplog.text
    assert not AuditCheckpoint.objects.exists()


def test_automatic_checkpoints_walk_only_from_the_previous_one(db, every_three):
    record(3)
    check_once()
    # Changed before the previous checkpoint: that checkpoint vouched for it, so the
    # worker's walk (#3 on) does not look; verify_audit_chain walks everything.
    raw_sql("UPDATE {table} SET message = 'x' WHERE sequence = 1")
    record(3)
    check_once()
    signed = AuditCheckpoint.objects.order_by("sequence").values_list("sequence", flat=True)
    assert list(signed) == [3, 6]
    assert "BROKEN at #1: #1 hash mismatch" in refused()


# --- Verification against the stored checkpoints ---------------------------------


@pytest.fixture
def checkpointed(db, every_three):
    """Six events with stored checkpoints at #3 and #6, then two more events."""
    record(3)
    create_checkpoint()
    record(3)
    create_checkpoint()
    record(2)


def test_plain_verification_checks_every_stored_checkpoint(checkpointed):
    output = verify()
    assert "Checked 8 audit events" in output
    assert "stored checkpoint #3 of" in output and "stored checkpoint #6 of" in output


def test_a_head_behind_a_stored_checkpoint_is_named(checkpointed, settings):
    raw_sql("DELETE FROM {table} WHERE sequence >= 5")
    ChainHead.objects.filter(pk=1).update(sequence=4, hash=hash_of(4))
    settings.AUDIT_CHECKPOINT_DIR = ""  # the stored checkpoint alone
    output = refused()
    assert "BROKEN at #5: the chain head #4 is behind stored checkpoint #6" in output


def test_a_changed_checkpointed_event_is_named(checkpointed):
    # A key holder rewriting history: every link verifies, the stored checkpoint does not.
    raw_sql("UPDATE {table} SET message = 'rewritten' WHERE sequence = 2")
    rehash_from(2, key=key_ring().signing)
    output = refused()
    assert "BROKEN at #3: #3 differs from stored checkpoint #3" in output


def test_an_edited_stored_checkpoint_is_named(checkpointed):
    AuditCheckpoint.objects.filter(sequence=6).update(sequence=5, hash=hash_of(5))
    output = refused()
    assert "stored checkpoint #5" in output
    assert "does not match its signature" in output


def test_a_range_is_verified_without_the_stored_checkpoints(checkpointed):
    raw_sql("DELETE FROM {table} WHERE sequence >= 7")
    ChainHead.objects.filter(pk=1).update(sequence=6, hash=hash_of(6))
    assert "OK" in verify("--from", "1", "--to", "6")


def test_the_newest_file_in_the_checkpoint_directory_holds_the_chain(checkpointed, every_three):
    assert "checkpoint-000000000006-" in verify("--checkpoint-dir", str(every_three))
    # Truncate, move the head and remove the stored checkpoints: only the copy is left.
    raw_sql("DELETE FROM {table} WHERE sequence >= 5")
    ChainHead.objects.filter(pk=1).update(sequence=4, hash=hash_of(4))
    AuditCheckpoint.objects.all().delete()
    output = refused("--checkpoint-dir", str(every_three))
    assert "the chain head #4 is behind checkpoint-000000000006-" in output
    # The directory is AUDIT_CHECKPOINT_DIR: read without being named.
    assert "the chain head #4 is behind checkpoint-000000000006-" in refused()


def test_an_empty_checkpoint_directory_is_refused(db, tmp_path):
    with pytest.raises(CommandError, match=r"No checkpoint-.* or tree-") as caught:
        call_command("verify_audit_chain", "--checkpoint-dir", str(tmp_path), stdout=StringIO())
    assert caught.value.returncode == 2


def test_a_checkpoint_file_may_be_written_anywhere(checkpointed, tmp_path):
    path = tmp_path / "elsewhere.json"
    write_checkpoint(create_checkpoint(), path)
    assert "elsewhere.json #8 of" in verify("--checkpoint", str(path))
    assert AuditEvent.objects.count() == 8
