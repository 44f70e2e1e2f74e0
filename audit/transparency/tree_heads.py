"""Signed tree heads: the worker signs the Merkle tree's size and root as a tlog checkpoint.

A checkpoint is a C2SP signed note (c2sp.org/tlog-checkpoint): the origin
(AUDIT_LOG_ORIGIN), the tree size, the base64 root hash, then one Ed25519 signature
line. It is stored in the TreeCheckpoint table (append-only) and, once committed,
written to AUDIT_CHECKPOINT_DIR as tree-<size, 20 digits>.checkpoint, never
overwritten. Anyone holding the verifier key can check one without our secrets.
"""

import logging
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError
from django.utils import timezone

from ocr_project.common.atomic_files import atomic_write

from ..models import TreeCheckpoint
from ..roles import SEALER_ROLE, acting_as
from .keys import load_signer, log_origin
from .node_store import DatabaseNodeStore
from .verifier.merkle import root_hash
from .verifier.signed_note import Checkpoint, Verifier, open_checkpoint, sign_note

logger = logging.getLogger("audit_checkpoints")
FILE_PATTERN = "tree-*.checkpoint"


class TreeHeadError(Exception):
    """A tree head that must not be signed: the tree shrank or was rewritten under one."""


def checkpoint_file_name(size: int) -> str:
    """Return the file name of the checkpoint of a tree size (names sort by size)."""
    return f"tree-{size:020d}.checkpoint"


def newest_tree_checkpoint() -> TreeCheckpoint | None:
    return TreeCheckpoint.objects.order_by("-size").first()


def sign_tree_head() -> TreeCheckpoint | None:
    """Sign the tree's current head if the tree grew since the newest checkpoint.

    Return the new checkpoint, or None when there was nothing new (or another worker
    signed this size first) or no signer key. The newest checkpoint's root must still be
    the tree's at its size, and the tree may not be smaller: a rewrite or a cut since
    then is refused (TreeHeadError), never blessed.
    """
    signer = load_signer()
    if signer is None:
        return None
    store = DatabaseNodeStore()
    size = store.size()
    newest = newest_tree_checkpoint()
    if newest is not None:
        if size < newest.size:
            raise TreeHeadError(
                f"the Merkle tree holds {size:,} leaves, fewer than the {newest.size:,} of the "
                "newest checkpoint: the tree was cut back"
            )
        if root_hash(store, size=newest.size) != bytes(newest.root_hash):
            raise TreeHeadError(
                f"the Merkle tree's root at size {newest.size:,} differs from the newest "
                "checkpoint's: the tree was rewritten"
            )
        if size == newest.size:
            ensure_file(newest)
            return None
    elif size == 0:
        return None
    root = root_hash(store, size=size)
    note = sign_note(Checkpoint(log_origin(), size, root).text(), signers=[signer])
    try:
        # As the sealer role, the one the PostgreSQL trigger lets INSERT a checkpoint
        # (migration 0023): a row of a larger size by anyone else stopped every signing.
        with acting_as(SEALER_ROLE):
            checkpoint = TreeCheckpoint.objects.create(
                size=size, root_hash=root, note=note, created_at=timezone.now()
            )
    except IntegrityError:
        return (
            None  # another worker signed this size first (the same note, Ed25519 is deterministic)
        )
    # After the commit: a file never names a checkpoint the database lacks.
    ensure_file(checkpoint)
    return checkpoint


def ensure_file(checkpoint: TreeCheckpoint) -> None:
    """Write a stored checkpoint to AUDIT_CHECKPOINT_DIR unless it is there already."""
    if not settings.AUDIT_CHECKPOINT_DIR:
        return
    directory = Path(settings.AUDIT_CHECKPOINT_DIR)
    path = directory / checkpoint_file_name(checkpoint.size)
    if path.exists():
        if path.read_text(encoding="utf-8") != checkpoint.note:
            logger.error(
                "%s differs from the stored checkpoint of size %d; left as it is",
                path,
                checkpoint.size,
            )
        return
    directory.mkdir(parents=True, exist_ok=True)
    try:
        with atomic_write(path, overwrite=False) as handle:
            handle.write(checkpoint.note)
    except FileExistsError:
        pass  # another worker wrote it meanwhile


@dataclass(frozen=True)
class SignedTreeHead:
    """A checkpoint whose signature verified, and where it was read."""

    checkpoint: Checkpoint
    note: str
    source: str  # the file name, or "stored checkpoint"


def open_tree_head(text: str, *, verifiers: list[Verifier], source: str) -> SignedTreeHead:
    """Return a checkpoint of this log once a known key's signature holds (else NoteError)."""
    checkpoint, _ = open_checkpoint(text, origin=log_origin(), verifiers=verifiers)
    return SignedTreeHead(checkpoint=checkpoint, note=text, source=source)


def checkpoint_files(directory: Path) -> list[Path]:
    """Return the tree checkpoint files in a directory, smallest size first."""
    return sorted(Path(directory).glob(FILE_PATTERN))
