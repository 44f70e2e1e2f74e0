"""Helpers for the witness tests: a witness run over real HTTP, and a trail to witness."""

from io import StringIO
from pathlib import Path

from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction

from audit.models import WitnessCosignature
from audit.services import record_event
from audit.tests.fixtures import drain_sealer
from audit.tests.tamper import TREE_CHECKPOINTS
from audit.transparency.keys import verifiers
from audit.transparency.tree_heads import sign_tree_head


def record(count: int) -> None:
    """Record events and seal them, as the sealer's next round would."""
    for number in range(count):
        record_event(event_type="task_create", username="alice", resource_id=number)
    drain_sealer()


def record_and_sign(count: int) -> int:
    """Record events, sign the tree head; return the signed size."""
    record(count)
    checkpoint = sign_tree_head()
    assert checkpoint is not None
    return checkpoint.size


def log_key() -> str:
    return verifiers()[0].key()


def run_witness(state: Path, url: str, *extra: str) -> tuple[int, str, str]:
    """Run audit_witness --once against the live server; return (exit, stdout, stderr)."""
    out, err = StringIO(), StringIO()
    args = ["--once", "--state-dir", str(state), "--url", url, "--log-key", log_key(), *extra]
    try:
        call_command("audit_witness", *args, stdout=out, stderr=err)
    except CommandError as error:
        return error.returncode, out.getvalue(), err.getvalue() + str(error)
    return 0, out.getvalue(), err.getvalue()


def init_witness(state: Path, name: str) -> str:
    """Make a witness key in a state directory; return its verifier key."""
    out = StringIO()
    call_command("audit_witness", "--init", name, "--state-dir", str(state), stdout=out)
    return out.getvalue().strip()


def verify(*args: str) -> tuple[int, str]:
    out = StringIO()
    try:
        call_command("verify_audit_chain", *args, stdout=out)
    except CommandError as error:
        return error.returncode, out.getvalue() + str(error)
    return 0, out.getvalue()


def drop_checkpoints(*, above: int) -> None:
    """Delete the stored checkpoints larger than a size, and their cosignatures, as a DBA."""
    cosignatures = WitnessCosignature._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The foreign key is checked at once, so the triggers can be enabled again.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            for table in (cosignatures, TREE_CHECKPOINTS):
                cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        cursor.execute(
            f"DELETE FROM {cosignatures} WHERE checkpoint_id IN "  # noqa: S608
            f"(SELECT id FROM {TREE_CHECKPOINTS} WHERE size > %s)",
            [above],
        )
        cursor.execute(f"DELETE FROM {TREE_CHECKPOINTS} WHERE size > %s", [above])  # noqa: S608
        if connection.vendor == "postgresql":
            for table in (cosignatures, TREE_CHECKPOINTS):
                cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
