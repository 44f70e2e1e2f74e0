"""The signed checkpoints the offline verifier is given, and the witnesses' word on them.

The log's verifier keys and its checkpoint files are read here, each checkpoint opened
only once a given key's signature holds, and the newest one's cosignatures counted
against the witness keys given (c2sp.org/tlog-cosignature). Anything unreadable or
unsigned is BadInput (exit 2 of ``offline``).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .exports import BadInput
from .signed_note import Checkpoint, NoteError, Verifier, open_checkpoint, parse_checkpoint
from .tlog_cosignature import CosignerVerifier, note_cosignatures

CHECKPOINT_PATTERN = "tree-*.checkpoint"


def read_verifiers(value: str) -> list[Verifier]:
    """Return the verifier keys given as a key, or a file of keys one a line."""
    path = Path(value)
    try:
        lines = path.read_text(encoding="utf-8").splitlines() if path.is_file() else [value]
    except (OSError, UnicodeDecodeError) as error:
        raise BadInput(f"cannot read the key file {value}: {error}") from error
    keys = [line.strip() for line in lines if line.strip()]
    if not keys:
        raise BadInput(f"no verifier key in {value}")
    try:
        return [Verifier.from_key(key) for key in keys]
    except NoteError as error:
        raise BadInput(f"not a verifier key: {error}") from error


@dataclass(frozen=True)
class SignedHead:
    """A checkpoint whose signature verified, and where it came from."""

    checkpoint: Checkpoint
    source: str
    note: str = ""


def open_head(
    text: str, *, verifiers: list[Verifier], origin: str | None, source: str
) -> SignedHead:
    """Return a checkpoint once a given key's signature holds; BadInput otherwise."""
    try:
        if origin is None:
            # The origin the checkpoint names; every checkpoint must then name the same.
            origin = parse_checkpoint(text[: text.rfind("\n\n") + 1]).origin
        checkpoint, _ = open_checkpoint(text, origin=origin, verifiers=verifiers)
    except NoteError as error:
        raise BadInput(f"{source}: {error}") from error
    return SignedHead(checkpoint, source, text)


def read_checkpoints(
    sources: Sequence[str], *, verifiers: list[Verifier], origin: str | None
) -> list[SignedHead]:
    """Return the verified checkpoints in these files and directories, smallest size first."""
    paths: list[Path] = []
    for source in sources:
        path = Path(source)
        if path.is_dir():
            paths.extend(sorted(path.glob(CHECKPOINT_PATTERN)))
        elif path.is_file():
            paths.append(path)
        else:
            raise BadInput(f"no checkpoint file or directory {source}")
    heads = []
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise BadInput(f"cannot read {path}: {error}") from error
        heads.append(open_head(text, verifiers=verifiers, origin=origin, source=path.name))
    origins = {head.checkpoint.origin for head in heads}
    if len(origins) > 1:
        raise BadInput(f"checkpoints of more than one log: {', '.join(sorted(origins))}")
    return sorted(heads, key=lambda head: head.checkpoint.size)


def read_witness_keys(values: Sequence[str]) -> list[CosignerVerifier]:
    """Return the witness keys given as keys, or files of keys one a line."""
    keys = []
    for value in values:
        path = Path(value)
        try:
            lines = path.read_text(encoding="utf-8").splitlines() if path.is_file() else [value]
            keys += [CosignerVerifier.from_key(line.strip()) for line in lines if line.strip()]
        except (OSError, UnicodeDecodeError, NoteError) as error:
            raise BadInput(f"not a witness key: {value}: {error}") from error
    return keys


def witness_shortfall(
    heads: Sequence[SignedHead], *, witnesses: list[CosignerVerifier], required: int
) -> str | None:
    """Return why the newest checkpoint lacks `required` cosignatures, or None."""
    if not heads:
        return "no checkpoint given, so none is witnessed"
    newest = heads[-1]
    # Every file of the newest size counts: a witness's copy and the log's may differ.
    notes = [head.note for head in heads if head.checkpoint == newest.checkpoint]
    found = {
        (c.witness.name, c.witness.key_id)
        for note in notes
        for c in note_cosignatures(note, witnesses=witnesses)
    }
    if len(found) >= required:
        return None
    return (
        f"the newest checkpoint (size {newest.checkpoint.size:,}) has {len(found)} of the "
        f"{required} witness cosignatures required"
    )
