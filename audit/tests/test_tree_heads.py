"""Signed tree heads: made by the worker, kept in the database and outside it, held against both."""

import base64
import logging
import stat
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from audit.chain import key_ring
from audit.models import AppendOnlyError, AuditEvent, ChainHead, TreeCheckpoint
from audit.services import record_event
from audit.tests.fixtures import drain_sealer
from audit.tests.tamper import (
    TREE_CHECKPOINTS,
    cut_tree,
    hash_of,
    raw_sql,
    rebuild_tree_from,
    rehash_from,
)
from audit.transparency.keys import create_key_file, verifiers
from audit.transparency.node_store import DatabaseNodeStore
from audit.transparency.tree_heads import checkpoint_file_name, sign_tree_head
from audit.transparency.verifier.merkle import root_hash
from audit.transparency.verifier.signed_note import Signer, open_checkpoint, sign_note

ORIGIN = "test.example/ocr-audit"


def record(count: int) -> None:
    """Record events and seal them, as the sealer's next round would."""
    for number in range(count):
        record_event(event_type="task_create", resource_id=number)
    drain_sealer()


def verify(*args: str) -> tuple[int, str]:
    out = StringIO()
    try:
        call_command("verify_audit_chain", *args, stdout=out)
    except CommandError as error:
        return error.returncode, out.getvalue() + str(error)
    return 0, out.getvalue()


def directory(settings) -> Path:
    return Path(settings.AUDIT_CHECKPOINT_DIR)


def move_head(sequence: int) -> None:
    values = AuditEvent.objects.filter(sequence=sequence).values("hash", "timestamp", "key_id")
    ChainHead.objects.filter(pk=1).update(sequence=sequence, **values.get())


def drop_stored_tree_heads(*, from_size: int = 0) -> None:
    raw_sql("DELETE FROM {table} WHERE size >= %s", [from_size], table=TREE_CHECKPOINTS)


@pytest.fixture
def signed(db):
    """A trail of 12 events with signed tree heads at sizes 4, 8 and 12."""
    for _ in range(3):
        record(4)
        assert sign_tree_head() is not None


# --- Signing ---------------------------------------------------------------------------


def test_a_tree_head_is_a_c2sp_checkpoint_stored_and_written_to_the_directory(db, settings):
    record(5)
    checkpoint = sign_tree_head()
    assert checkpoint is not None
    root = root_hash(DatabaseNodeStore(), size=5)
    text = f"{ORIGIN}\n5\n{base64.b64encode(root).decode()}\n"
    assert checkpoint.note.startswith(text + "\n— test.example/ocr-audit ")
    assert bytes(checkpoint.root_hash) == root
    parsed, _ = open_checkpoint(checkpoint.note, origin=ORIGIN, verifiers=verifiers())
    assert (parsed.size, parsed.root_hash) == (5, root)
    path = directory(settings) / checkpoint_file_name(5)
    assert path.read_text() == checkpoint.note
    assert path.name == "tree-00000000000000000005.checkpoint"


def test_nothing_is_signed_while_the_tree_does_not_grow(db, settings):
    assert sign_tree_head() is None  # empty
    record(2)
    assert sign_tree_head() is not None
    assert sign_tree_head() is None
    record(1)
    assert sign_tree_head().size == 3
    assert sorted(p.name for p in directory(settings).iterdir()) == [
        checkpoint_file_name(2),
        checkpoint_file_name(3),
    ]


def test_without_a_signer_key_nothing_is_signed(db, settings, tmp_path):
    settings.AUDIT_CHECKPOINT_SIGNER_KEY_FILE = str(tmp_path / "absent.key")
    record(2)
    assert sign_tree_head() is None


def test_a_file_is_never_overwritten(db, settings, caplog):
    record(2)
    path = directory(settings) / checkpoint_file_name(2)
    path.parent.mkdir(parents=True)
    path.write_text("someone else's\n")
    with caplog.at_level(logging.ERROR, logger="audit_checkpoints"):
        sign_tree_head()
    assert path.read_text() == "someone else's\n"
    assert "differs from the stored checkpoint of size 2" in caplog.text


def test_a_missing_file_of_the_newest_checkpoint_is_written_again(db, settings):
    record(2)
    checkpoint = sign_tree_head()
    path = directory(settings) / checkpoint_file_name(2)
    path.unlink()  # the worker died between the commit and the file
    assert sign_tree_head() is None
    assert path.read_text() == checkpoint.note


def test_a_tree_rewritten_under_the_newest_checkpoint_is_not_signed(signed, caplog):
    raw_sql("UPDATE {table} SET message = 'edited' WHERE sequence = 5")
    rehash_from(5, key=key_ring().signing)
    rebuild_tree_from(5)
    record(1)
    with pytest.raises(Exception, match="the tree was rewritten"):
        sign_tree_head()


# The worker closes the connection between rounds, as it does in production.
@pytest.mark.django_db(transaction=True)
def test_the_worker_signs_the_tree_head(settings):
    record(3)
    call_command("ocr_worker", "--batch", "--no-startup-delay", "--no-reload", verbosity=0)
    assert TreeCheckpoint.objects.get().size == 3
    assert (directory(settings) / checkpoint_file_name(3)).exists()


def test_tree_checkpoints_cannot_be_changed_through_the_orm(signed):
    row = TreeCheckpoint.objects.first()
    with pytest.raises(AppendOnlyError):
        row.save()
    with pytest.raises(AppendOnlyError):
        TreeCheckpoint.objects.all().delete()
    with pytest.raises(AppendOnlyError):
        TreeCheckpoint.objects.update(note="")


@pytest.mark.postgresql
def test_the_postgresql_trigger_refuses_update_and_delete(signed):
    for sql in (
        f"UPDATE {TREE_CHECKPOINTS} SET note = ''",  # noqa: S608
        f"DELETE FROM {TREE_CHECKPOINTS}",  # noqa: S608
    ):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql)
    assert TreeCheckpoint.objects.count() == 3


# --- Keys ------------------------------------------------------------------------------


def test_audit_keys_writes_a_private_key_file_and_prints_the_verifier_key(db, settings, tmp_path):
    path = tmp_path / "var" / "signer.key"
    settings.AUDIT_CHECKPOINT_SIGNER_KEY_FILE = str(path)
    out = StringIO()
    call_command("audit_keys", stdout=out, stderr=StringIO())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    signer = Signer.from_key(path.read_text().strip())
    assert out.getvalue().strip() == signer.verifier().key()
    assert signer.name == ORIGIN
    with pytest.raises(CommandError, match="exists"):
        call_command("audit_keys", stdout=StringIO(), stderr=StringIO())
    again = StringIO()
    call_command("audit_keys", "--if-missing", stdout=again, stderr=StringIO())
    assert again.getvalue() == out.getvalue()
    assert Signer.from_key(path.read_text().strip()) == signer  # kept


def test_the_public_key_is_served_at_a_well_known_address(client, settings, tmp_path):
    response = client.get("/.well-known/audit-log-key")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain"
    assert response.content.decode() == f"{verifiers()[0].key()}\n"
    other = create_key_file(name="elsewhere.example/log", path=tmp_path / "k").verifier().key()
    settings.AUDIT_CHECKPOINT_VERIFIER_KEYS = [verifiers()[0].key(), other]
    lines = client.get("/.well-known/audit-log-key").content.decode().splitlines()
    assert lines == settings.AUDIT_CHECKPOINT_VERIFIER_KEYS
    settings.AUDIT_CHECKPOINT_VERIFIER_KEYS = []
    settings.AUDIT_CHECKPOINT_SIGNER_KEY_FILE = str(tmp_path / "absent.key")
    assert client.get("/.well-known/audit-log-key").status_code == 404


# --- Verification against the directory: the attacks (both databases) ------------


def test_an_intact_signed_trail_verifies(signed):
    code, output = verify()
    assert code == 0, output
    assert "3 stored and 3 outside the database signed checkpoints hold" in output


def test_truncating_events_head_checkpoints_and_tree_is_caught_by_the_directory(signed):
    raw_sql("DELETE FROM {table} WHERE sequence >= 6")
    move_head(5)
    drop_stored_tree_heads()
    raw_sql("DELETE FROM audit_auditcheckpoint")
    cut_tree(5)  # the thorough attacker: the tree agrees with the cut chain
    code, output = verify()
    assert code == 1, output
    assert "the Merkle tree holds 5 leaves, fewer than the 8 of the signed checkpoint" in output


def test_cutting_events_a_signed_checkpoint_covers_and_moving_the_head_is_caught(signed):
    drop_stored_tree_heads()
    raw_sql("DELETE FROM {table} WHERE sequence >= 11")  # #11-#12, under size 12
    move_head(10)
    cut_tree(10)
    code, output = verify()
    assert code == 1, output
    assert "#11-#12 were removed" in output


def test_deleting_the_newest_stored_checkpoint_is_caught(signed):
    drop_stored_tree_heads(from_size=12)
    code, output = verify()
    assert code == 1, output
    assert "has no stored copy in the database (TreeCheckpoint row deleted)" in output


def test_overwriting_the_newest_stored_checkpoint_with_an_older_one_is_caught(signed):
    older = TreeCheckpoint.objects.get(size=8)
    raw_sql(
        "UPDATE {table} SET note = %s, root_hash = %s, size = 13 WHERE size = 12",
        [older.note, bytes(older.root_hash)],
        table=TREE_CHECKPOINTS,
    )
    code, output = verify()
    assert code == 1, output
    raw_sql("UPDATE {table} SET size = 12 WHERE size = 13", table=TREE_CHECKPOINTS)
    code, output = verify()
    assert code == 1, output
    assert "differs from its own signed note" in output or "differs from the file" in output


def test_a_key_holder_rewriting_under_a_signed_checkpoint_is_caught(signed):
    raw_sql("UPDATE {table} SET message = 'edited' WHERE sequence = 3")
    rehash_from(3, key=key_ring().signing)
    rebuild_tree_from(3)
    drop_stored_tree_heads()
    code, output = verify()
    assert code == 1, output
    assert "the Merkle tree at size 4 differs from the signed checkpoint" in output


def test_a_forged_checkpoint_file_is_tampering(signed, settings, tmp_path):
    path = directory(settings) / checkpoint_file_name(12)
    text = path.read_text()
    path.write_text(text.replace("\n12\n", "\n13\n"))
    code, output = verify()
    assert code == 1, output
    assert "does not verify" in output


def test_a_checkpoint_signed_by_an_unknown_key_is_refused(signed, settings, tmp_path):
    stranger = Signer.from_key((create_key_file(name=ORIGIN, path=tmp_path / "other.key")).key())
    text = f"{ORIGIN}\n12\n{base64.b64encode(b'0' * 32).decode()}\n"
    (directory(settings) / checkpoint_file_name(99)).write_text(sign_note(text, signers=[stranger]))
    code, output = verify()
    assert code == 2, output


def test_a_verifying_host_needs_only_the_verifier_key(signed, settings, tmp_path):
    public = verifiers()[0].key()
    settings.AUDIT_CHECKPOINT_SIGNER_KEY_FILE = str(tmp_path / "absent.key")
    assert verify()[0] == 2  # no key to check with: refused, not passed
    settings.AUDIT_CHECKPOINT_VERIFIER_KEYS = [public]
    code, output = verify()
    assert code == 0, output


def test_a_stored_checkpoint_that_was_edited_is_tampering(signed):
    raw_sql(
        "UPDATE {table} SET root_hash = %s WHERE size = 8", [b"\0" * 32], table=TREE_CHECKPOINTS
    )
    code, output = verify()
    assert code == 1, output
    assert "stored checkpoint of size 8 differs from its own signed note" in output


def test_a_head_check_leaves_hash_of_unchanged(signed):
    # Sanity: the fixture's trail really is twelve sealed events.
    assert hash_of(12) == ChainHead.objects.get(pk=1).hash


def test_audit_checkpoint_tree_head_signs_now_what_the_worker_would(db, settings):
    assert verify()[0] == 0  # an empty trail needs no anchor
    record(3)
    assert verify()[0] == 4  # unanchored until a tree head is signed

    out = StringIO()
    call_command("audit_checkpoint", "--tree-head", stdout=out)

    assert out.getvalue().strip() == "Tree head of size 3 signed."
    assert list(TreeCheckpoint.objects.values_list("size", flat=True)) == [3]
    assert (directory(settings) / checkpoint_file_name(3)).is_file()
    assert verify()[0] == 0
    again = StringIO()
    call_command("audit_checkpoint", "--tree-head", stdout=again)
    assert again.getvalue().strip() == "Tree head of size 3 already signed."
    assert TreeCheckpoint.objects.count() == 1


def test_audit_checkpoint_tree_head_without_a_key_says_how_to_make_one(db, settings, tmp_path):
    settings.AUDIT_CHECKPOINT_SIGNER_KEY_FILE = str(tmp_path / "absent.key")
    record(1)
    with pytest.raises(CommandError, match="audit_keys creates one"):
        call_command("audit_checkpoint", "--tree-head", stdout=StringIO())
