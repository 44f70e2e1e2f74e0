"""Hold the chain against signed checkpoints: stored ones, files kept elsewhere, archives.

A keyed chain stops anyone without the chain key from rewriting rows, but not from
cutting the newest ones and moving the head back, nor a key holder from rewriting
everything. A signed checkpoint pins (sequence, hash) at a moment: the chain must
still reach it and still hold that hash there. Where retention pruned the
checkpointed event, the archive recorded by the audit_prune event stands in for it.
"""

import hmac
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..models import AuditEvent
from ..timestamps import readable_utc
from .archives import archive_rows, file_sha256, verify_archive
from .rows import PRUNE_EVENT, ROW_FIELDS, ChainBroken, predecessor

if TYPE_CHECKING:
    from .checkpoint_format import Checkpoint

_HASH = ROW_FIELDS.index("hash")


@dataclass(frozen=True)
class Prune:
    """What one audit_prune event says it removed, and into which archive."""

    sequence: int
    first: int
    last: int
    last_hash: str
    archive: str
    archive_sha256: str

    def covers(self, sequence: int) -> bool:
        return self.first <= sequence <= self.last


def recorded_prunes() -> list[Prune]:
    """Return the prunes recorded in the chain, oldest first.

    Only events the walk has accepted count (verify_chain checks them first): under a
    keyed chain nobody without the key can add one. Unsealed ones are in no link yet
    (anyone who can write to the table can insert one), so they do not count.
    """
    prunes = []
    recorded = (
        AuditEvent.objects.filter(event_type=PRUNE_EVENT, sequence__isnull=False)
        .order_by("sequence")
        .values_list("sequence", "metadata")
    )
    for sequence, metadata in recorded:
        try:
            first, last = int(metadata.get("first_sequence", 1)), int(metadata["last_sequence"])
            prunes.append(
                Prune(
                    # Sealed events only: the sequence is set.
                    sequence=sequence,  # type: ignore[arg-type]
                    first=first,
                    last=last,
                    last_hash=str(metadata["last_hash"]),
                    archive=str(metadata.get("archive", "")),
                    archive_sha256=str(metadata.get("archive_sha256", "")),
                )
            )
        except (AttributeError, KeyError, TypeError, ValueError):
            continue
    return prunes


@dataclass(frozen=True)
class Anchor:
    """A checkpoint to hold the chain against, and where it came from."""

    checkpoint: "Checkpoint"
    source: str  # "stored checkpoint" or the file's name
    off_machine: bool  # a file: a pruned event needs its archive to be checked


def check_anchors(
    anchors: Iterable[Anchor], *, head_sequence: int, archives: Sequence[Path] = ()
) -> list[str]:
    """Return a note per anchor; raise ChainBroken at the first that the chain fails."""
    notes = []
    prunes: list[Prune] | None = None
    digests: dict[str, Path] | None = None
    anchors = sorted(anchors, key=lambda anchor: anchor.checkpoint.sequence)
    # Years of checkpoints every few minutes are many: their events are read in bulk.
    hashes = stored_hashes({anchor.checkpoint.sequence for anchor in anchors})
    for anchor in anchors:
        checkpoint = anchor.checkpoint
        sequence = checkpoint.sequence
        label = f"{anchor.source} #{sequence} of {readable_utc(checkpoint.created_at)}"
        if sequence > head_sequence:
            raise ChainBroken(
                head_sequence + 1,
                f"the chain head #{head_sequence} is behind {label}: "
                f"#{head_sequence + 1}-#{sequence} were removed (or an older backup restored)",
            )
        row = hashes.get(sequence)
        if row is not None:
            if not hmac.compare_digest(row, checkpoint.hash):
                raise ChainBroken(sequence, f"#{sequence} differs from {label} (chain rewritten)")
            notes.append(f"{label} matches")
            continue
        if prunes is None:
            prunes = recorded_prunes()
        prune = next((prune for prune in prunes if prune.covers(sequence)), None)
        if prune is None:
            before = predecessor(sequence)
            missing = before.sequence + 1 if before else 1
            raise ChainBroken(
                missing, f"#{sequence} from {label} is gone: rows from #{missing} were removed"
            )
        if not anchor.off_machine and not archives:
            # Stored with the rows: whoever could forge this prune could delete the
            # stored checkpoint as well, so it proves nothing more than the walk did.
            notes.append(f"{label} was pruned by audit_prune #{prune.sequence}")
            continue
        if digests is None:
            digests = {file_sha256(path): path for path in archives}
        archive = digests.get(prune.archive_sha256)
        if archive is None:
            raise ChainBroken(
                sequence,
                f"{label} falls in #{prune.first}-#{prune.last}, pruned by audit_prune "
                f"#{prune.sequence}: verify it together with that archive, --archive "
                f"{Path(prune.archive).name or '(unnamed)'} "
                f"(SHA-256 {prune.archive_sha256[:16]}…)",
            )
        check_through_archive(checkpoint, prune=prune, archive=archive, label=label)
        notes.append(f"{label} matches in {archive.name}")
    return notes


def stored_hashes(sequences: set[int], *, batch: int = 1000) -> dict[int, str]:
    """Return {sequence: hash} of the stored events among the given sequence numbers."""
    ordered = sorted(sequences)
    found: dict[int, str] = {}
    for start in range(0, len(ordered), batch):
        rows = AuditEvent.objects.filter(sequence__in=ordered[start : start + batch])
        # Matched by sequence, so sealed: neither column is NULL.
        found.update(rows.values_list("sequence", "hash"))  # type: ignore[arg-type]
    return found


def check_through_archive(
    checkpoint: "Checkpoint", *, prune: Prune, archive: Path, label: str
) -> None:
    """Raise ChainBroken unless the archive is the prune's and holds the checkpointed link."""
    result = verify_archive(archive)
    if not result.ok:
        raise ChainBroken(
            result.first_bad_sequence, f"archive {archive.name} is broken: {result.reason}"
        )
    if (result.first_sequence, result.last_sequence) != (prune.first, prune.last):
        raise ChainBroken(
            checkpoint.sequence,
            f"archive {archive.name} holds #{result.first_sequence}-#{result.last_sequence}, "
            f"not the #{prune.first}-#{prune.last} audit_prune #{prune.sequence} recorded",
        )
    held = None
    last_hash = None
    for row in archive_rows(archive):
        if row[0] == checkpoint.sequence:
            held = row[_HASH]
        last_hash = row[_HASH]
    if last_hash != prune.last_hash:
        raise ChainBroken(
            prune.sequence, f"archive {archive.name} does not end at the hash audit_prune recorded"
        )
    if held is None or not hmac.compare_digest(held, checkpoint.hash):
        raise ChainBroken(
            checkpoint.sequence,
            f"#{checkpoint.sequence} in archive {archive.name} differs from {label} "
            "(history rewritten before it was pruned)",
        )
