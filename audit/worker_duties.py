"""What a long-running worker does for the audit trail beside its own work.

`manage.py ocr_worker` (tasks) is the one long-running process every deployment already
has, so the automatic checkpoints ride on it: one check at start, then two daemon
threads (``start_signing``). One signs the Merkle tree's head (a tlog checkpoint,
Ed25519) every AUDIT_CHECKPOINT_EVERY_SECONDS while the tree grows and writes it to
AUDIT_CHECKPOINT_DIR; the other looks every half minute (two index lookups) for a due
HMAC checkpoint (AUDIT_CHECKPOINT_EVERY_EVENTS / _MINUTES).

``work_through_outages`` lets a worker outlive the database: django-tasks-db's loop lets
a lost connection end the worker (its set_failed needs the database that just went
away), so a database restart used to stop every worker. Here the worker waits for the
database and starts again.
"""

import logging
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import close_old_connections

from audit.lease import note_signer_seen
from audit.outage import CONNECTION_LOST, wait_for_database
from audit.roles import RoleError
from audit.transparency.keys import KeyFileError, load_signer
from audit.transparency.tree_heads import TreeHeadError, sign_tree_head
from audit.verification.checkpoint_format import CheckpointError
from audit.verification.checkpoints import checkpoint_if_due

logger = logging.getLogger("audit_checkpoints")
worker_logger = logging.getLogger("django_tasks_db")


def check_once() -> None:
    """Sign the chain head if a checkpoint is due; log (never raise) what happened."""
    try:
        # Seen now, next due within three looks: verify_audit_chain reports a signer
        # not seen since (exit 3), which a worker that died or hangs never says itself.
        note_signer_seen(period=timedelta(seconds=3 * poll_seconds()))
        checkpoint = checkpoint_if_due()
    except CheckpointError as error:
        # A chain that no longer verifies is an alarm, not a reason to stop OCR work.
        logger.error("Audit checkpoint refused: %s", error)
    except Exception:
        logger.exception("Audit checkpoint failed")
    else:
        if checkpoint is not None:
            logger.info("Audit checkpoint #%s signed", checkpoint.sequence)


def sign_tree_head_once() -> None:
    """Sign the Merkle tree's head if it grew; log (never raise) what happened."""
    try:
        checkpoint = sign_tree_head()
    except (TreeHeadError, KeyFileError, RoleError) as error:
        logger.error("Audit tree checkpoint refused: %s", error)
    except CONNECTION_LOST:
        logger.warning("Audit tree checkpoint skipped: the database is unreachable")
    except Exception:
        logger.exception("Audit tree checkpoint failed")
    else:
        if checkpoint is not None:
            logger.info("Audit tree checkpoint of size %s signed", checkpoint.size)


def warn_without_signer() -> None:
    try:
        signer = load_signer()
    except KeyFileError as error:
        logger.error("Audit tree checkpoints off: %s", error)
        return
    if signer is None:
        logger.warning(
            "Audit tree checkpoints off: no signer key at %s (manage.py audit_keys makes one)",
            settings.AUDIT_CHECKPOINT_SIGNER_KEY_FILE,
        )


def poll_seconds() -> float:
    return min(30.0, settings.AUDIT_CHECKPOINT_EVERY_MINUTES * 60.0)


def tree_head_seconds() -> float:
    return settings.AUDIT_CHECKPOINT_EVERY_SECONDS


def repeat(stop: threading.Event, action: Callable[[], None], every: Callable[[], float]) -> None:
    """Run ``action`` every ``every()`` seconds until ``stop`` is set."""
    while not stop.wait(every()):
        action()
        # This thread's own connection: dropped when broken or past CONN_MAX_AGE.
        close_old_connections()


def sign_due() -> None:
    """Sign what is due now (a worker's start, or a batch run's only chance)."""
    check_once()
    warn_without_signer()
    sign_tree_head_once()


def start_signing() -> threading.Event:
    """Keep signing in two daemon threads, until the event returned is set."""
    stop = threading.Event()
    for name, action, every in (
        ("audit-checkpoints", check_once, poll_seconds),
        ("audit-tree-heads", sign_tree_head_once, tree_head_seconds),
    ):
        threading.Thread(target=repeat, args=(stop, action, every), name=name, daemon=True).start()
    return stop


def work_through_outages(work: Callable[..., Any], *args, **options) -> Any:
    """Run django-tasks-db's worker loop; when it loses the database, wait and run it again.

    A task in hand when the database went away stays `processing` without a heartbeat,
    so reclaim_stale_tasks queues it again (ocr_worker's heartbeat does). Under --reload
    the worker runs in a thread of the reloader and is not covered: that is for
    development.
    """
    while True:
        try:
            return work(*args, **options)
        except CONNECTION_LOST as error:
            wait_for_database(error, what="Worker", logger=worker_logger)
            # The random start-up delay spreads a fleet's first start, not a restart.
            options["startup_delay"] = False
