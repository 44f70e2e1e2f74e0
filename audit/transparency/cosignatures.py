"""Witness cosignatures of the signed tree heads: accepted, stored, served and counted.

A witness (manage.py audit_witness, run by another party) cosigns a checkpoint only
after checking that it extends every one it cosigned before (c2sp.org/tlog-witness).
The service keeps the cosignatures that verify with a key of AUDIT_WITNESS_KEYS and
serves each checkpoint with them, so a client can require a quorum before it trusts a
tree head: a log that shows one history to the witnesses and another to an auditor
gets no cosignature for the second.

Storing a cosignature records no audit event on purpose: the event would grow the tree,
the tree a new checkpoint, the checkpoint a new cosignature, one event per signing
period forever. The rows are append-only like the checkpoints they cosign.
"""

import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError
from django.utils import timezone

from ..models import TreeCheckpoint, WitnessCosignature
from ..roles import COSIGNATURE_ROLE, RoleError, acting_as
from .keys import log_origin, verifiers
from .verifier.signed_note import NoteError, Signature, open_checkpoint
from .verifier.tlog_cosignature import Cosignature, CosignerVerifier, note_cosignatures

logger = logging.getLogger("audit_checkpoints")


class CosignatureRefused(ValueError):
    """A submitted cosignature the service will not store; `status` is the HTTP answer."""

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def witness_keys() -> list[CosignerVerifier]:
    """Return the witness keys of AUDIT_WITNESS_KEYS (the system check names a bad one)."""
    return [CosignerVerifier.from_key(key) for key in settings.AUDIT_WITNESS_KEYS]


def note_text(note: str) -> str:
    """Return a signed note's text: everything before the blank line and signatures."""
    return note[: note.rfind("\n\n") + 1]


def cosigned_note(checkpoint: TreeCheckpoint) -> str:
    """Return the checkpoint's signed note followed by the cosignatures stored for it."""
    rows = checkpoint.cosignatures.order_by("id").values_list("witness_name", "signature")
    return checkpoint.note + "".join(
        Signature(name, 0, signature).line() for name, signature in rows
    )


def newest_cosigned_note() -> str | None:
    """Return the newest signed checkpoint with its cosignatures, or None before the first."""
    newest = TreeCheckpoint.objects.order_by("-size").first()
    return cosigned_note(newest) if newest is not None else None


@dataclass(frozen=True)
class Accepted:
    """What a submission stored: the tree size and the witnesses newly recorded."""

    size: int
    stored: list[str]
    already: list[str]


def store_cosignatures(*, note: str) -> Accepted:
    """Store the cosignatures of a stored checkpoint that verify with a configured key.

    The note must be one of ours (the log key's signature holds and its text is that of
    the stored checkpoint of its size): a witness that cosigned anything else cosigned
    a history this service never signed. Raise CosignatureRefused otherwise, or when no
    line verifies with a key of AUDIT_WITNESS_KEYS.
    """
    try:
        checkpoint, _ = open_checkpoint(note, origin=log_origin(), verifiers=verifiers())
    except NoteError as error:
        raise CosignatureRefused(f"not a checkpoint signed by this log: {error}") from None
    stored = TreeCheckpoint.objects.filter(size=checkpoint.size).first()
    if stored is None:
        raise CosignatureRefused(f"no checkpoint of size {checkpoint.size} is stored", status=404)
    if note_text(stored.note) != note_text(note):
        logger.error(
            "a cosignature was submitted for a checkpoint of size %d that differs from the "
            "stored one (a split view shown to a witness?)",
            checkpoint.size,
        )
        raise CosignatureRefused(
            f"the checkpoint of size {checkpoint.size} differs from the stored one", status=409
        )
    keys = witness_keys()
    if not keys:
        raise CosignatureRefused("no witness key is configured (AUDIT_WITNESS_KEYS)", status=403)
    found = note_cosignatures(note, witnesses=keys)
    if not found:
        raise CosignatureRefused(
            "no cosignature in the note verifies with a configured witness key", status=403
        )
    accepted, already = [], []
    for cosignature in found:
        witness = cosignature.witness
        try:
            # As the one role the PostgreSQL trigger lets INSERT a cosignature (migration
            # 0023): a row under a witness's name by anyone else kept its real one out.
            with acting_as(COSIGNATURE_ROLE):
                WitnessCosignature.objects.create(
                    checkpoint=stored,
                    witness_name=witness.name,
                    witness_key_id=witness.key_id,
                    timestamp=cosignature.timestamp,
                    signature=cosignature.signature.base64,
                    received_at=timezone.now(),
                )
            accepted.append(witness.name)
        except IntegrityError:
            already.append(witness.name)  # the first cosignature of this key stands
        except RoleError as error:
            logger.error("a witness cosignature cannot be stored: %s", error)
            raise CosignatureRefused(str(error), status=503) from error
    return Accepted(size=stored.size, stored=accepted, already=already)


def valid_cosignatures(
    checkpoint: TreeCheckpoint, *, notes: tuple[str, ...] = ()
) -> list[Cosignature]:
    """Return one verified cosignature per configured witness key for a stored checkpoint.

    Read from the stored rows and from any further notes of the same text (a cosigned
    copy kept outside the database); each is verified again, never trusted as stored.
    """
    keys = witness_keys()
    candidates = [cosigned_note(checkpoint)]
    candidates += [note for note in notes if note_text(note) == note_text(checkpoint.note)]
    found: dict[tuple[str, int], Cosignature] = {}
    for note in candidates:
        for cosignature in note_cosignatures(note, witnesses=keys):
            found.setdefault((cosignature.witness.name, cosignature.witness.key_id), cosignature)
    return list(found.values())
