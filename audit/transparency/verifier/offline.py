"""The offline verifier: an export and signed checkpoints checked with the public key alone.

    python -m audit.transparency.verifier.offline --key KEY_OR_FILE --checkpoints DIR_OR_FILES...
        --export events.ndjson[.gz]...
    python -m audit.transparency.verifier.offline --key KEY_OR_FILE --event LINE_OR_FILE
        --proof PROOF_JSON_OR_FILE [--checkpoints ...]

Needs Python and ``cryptography``, nothing else: this module imports only ``records``,
``merkle`` and ``signed_note``, none of which imports Django or the rest of the project
(a test runs it in a fresh virtualenv holding those four files). No chain key is
needed; the HMAC links (``hash``) are not checked here, the tree and its checkpoints are.

The export mode needs the full export, from leaf_index 0: a range that starts later has
no checkpoint to hold it against (verify such events one at a time with --event and
--proof). It rebuilds every leaf from its line as the server does, and compares the
root at each checkpoint's size with the checkpoint's. Leaves past the newest checkpoint
are reported as not yet covered.

Exit codes: 0 the export (or event) reproduces every checkpoint; 1 a mismatch, naming
the first bad leaf_index (a gap or a missing tail names the missing leaf exactly; an
altered event names the range between the last checkpoint that held and the first that
did not, one leaf when the checkpoints are that close); 2 bad input: a file that cannot
be read, a line that is no event, or a checkpoint whose signature does not verify with
the key (a checkpoint by another key is not evidence either way); 3 unwitnessed: with
--require-witnesses N, the newest checkpoint given lacks valid cosignatures by N of the
--witness-key keys (c2sp.org/tlog-cosignature), though everything else holds.
"""

import argparse
import base64
import binascii
import gzip
import json
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .merkle import InvalidProofError, leaf_hash, node_hash, verify_inclusion
from .records import row_payload
from .signed_note import (
    Checkpoint,
    CosignerVerifier,
    NoteError,
    Verifier,
    note_cosignatures,
    open_checkpoint,
    parse_checkpoint,
)

EXIT_OK = 0
EXIT_MISMATCH = 1
EXIT_BAD_INPUT = 2
EXIT_UNWITNESSED = 3
CHECKPOINT_PATTERN = "tree-*.checkpoint"

_STRING_FIELDS = (
    "timestamp",
    "event_type",
    "category",
    "outcome",
    "username",
    "user_agent",
    "request_id",
    "resource_type",
    "resource_id",
    "message",
    "prev_hash",
)


class BadInput(Exception):
    """An input that cannot be read or is not what it claims to be (exit 2)."""


class Mismatch(Exception):
    """The export or event does not reproduce a signed checkpoint (exit 1)."""


def leaf_bytes(event: dict[str, Any]) -> bytes:
    """Return an exported event's leaf bytes: its canonical record, as the server builds it.

    Raise BadInput when a field the record needs is missing or of the wrong type.
    """
    for name in _STRING_FIELDS:
        if not isinstance(event.get(name), str):
            raise BadInput(f"the field {name!r} is missing or not a string")
    sequence = event.get("sequence")
    if not isinstance(sequence, int) or isinstance(sequence, bool):
        raise BadInput("the field 'sequence' is missing or not an integer")
    ip_address = event.get("ip_address")
    if ip_address is not None and not isinstance(ip_address, str):
        raise BadInput("the field 'ip_address' is neither a string nor null")
    if "metadata" not in event:
        raise BadInput("the field 'metadata' is missing")
    return row_payload(
        (
            sequence,
            event["timestamp"],
            event["event_type"],
            event["category"],
            event["outcome"],
            event["username"],
            ip_address,
            event["user_agent"],
            event["request_id"],
            event["resource_type"],
            event["resource_id"],
            event["message"],
            event["metadata"],  # any JSON value; row_payload writes it canonically
            event["prev_hash"],
        )
    )


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


def export_lines(paths: Sequence[str]) -> Iterator[tuple[str, int, str]]:
    """Yield (file, line number, line) of the export files, in order; .gz is decompressed."""
    for name in paths:
        try:
            opener = gzip.open if name.endswith(".gz") else open
            with opener(name, "rt", encoding="utf-8") as handle:
                for number, line in enumerate(handle, start=1):
                    if line.strip():
                        yield name, number, line
        except (OSError, UnicodeDecodeError, EOFError) as error:
            raise BadInput(f"cannot read {name}: {error}") from error


class Frontier:
    """The tree's right edge while leaves are appended: one complete subtree per set bit."""

    def __init__(self) -> None:
        self.size = 0
        self.subtrees: list[tuple[int, bytes]] = []  # (level, hash), largest first

    def append(self, value: bytes) -> None:
        level, current = 0, value
        while self.subtrees and self.subtrees[-1][0] == level:
            _, left = self.subtrees.pop()
            level, current = level + 1, node_hash(left, current)
        self.subtrees.append((level, current))
        self.size += 1

    def root(self) -> bytes:
        """Return the RFC 9162 root of the leaves so far (size >= 1)."""
        result = self.subtrees[-1][1]
        for _, left in reversed(self.subtrees[:-1]):
            result = node_hash(left, result)
        return result


def _leaves(first: int, last: int) -> str:
    return f"leaf_index {first}" if first == last else f"a leaf_index in {first}..{last}"


def verify_export(paths: Sequence[str], heads: Sequence[SignedHead]) -> str:
    """Check that the export reproduces every checkpoint's root; return the verdict.

    Raise Mismatch naming the first bad leaf, BadInput for what cannot be read.
    """
    if not heads:
        raise BadInput("no checkpoint: nothing to hold the export against")
    pending = list(heads)
    frontier = Frontier()
    held = 0  # the size of the largest checkpoint that held so far
    for name, number, line in export_lines(paths):
        where = f"{name} line {number}"
        try:
            event = json.loads(line)
        except ValueError as error:
            raise BadInput(f"{where} is not JSON: {error}") from error
        if not isinstance(event, dict):
            raise BadInput(f"{where} is not a JSON object")
        try:
            data = leaf_bytes(event)
        except BadInput as error:
            raise BadInput(f"{where}: {error}") from error
        index = event["sequence"] - 1
        if event.get("leaf_index", index) != index:
            raise Mismatch(
                f"{where}: leaf_index {event.get('leaf_index')!r} is not sequence - 1 ({index})"
            )
        if index != frontier.size:
            if frontier.size == 0:
                raise BadInput(
                    f"the export starts at leaf_index {index}: the full export, from "
                    "leaf_index 0, is required (verify single events with --event and --proof)"
                )
            if index > frontier.size:
                raise Mismatch(
                    f"leaf_index {frontier.size} is missing: the export goes from "
                    f"{frontier.size - 1} to {index} ({where})"
                )
            raise Mismatch(
                f"leaf_index {index} comes again or out of order after {frontier.size - 1} "
                f"({where}): the first bad leaf_index is {index}"
            )
        frontier.append(leaf_hash(data))
        while pending and pending[0].checkpoint.size == frontier.size:
            head = pending.pop(0)
            if frontier.root() != head.checkpoint.root_hash:
                raise Mismatch(
                    f"the leaves 0..{frontier.size - 1} do not reproduce the root of "
                    f"{head.source} (size {head.checkpoint.size}): the first bad leaf is "
                    f"{_leaves(held, frontier.size - 1)}"
                )
            held = frontier.size
    if pending:
        head = pending[0]
        raise Mismatch(
            f"the export ends at leaf_index {frontier.size - 1} but {head.source} signs "
            f"{head.checkpoint.size} leaves: leaf_index {frontier.size} is missing"
        )
    newest = heads[-1].checkpoint
    verdict = (
        f"OK: leaves 0..{newest.size - 1} ({newest.size:,} events) reproduce "
        f"{len(heads)} signed checkpoint(s) of {newest.origin}, the newest of size {newest.size}"
    )
    if frontier.size > newest.size:
        verdict += (
            f"; leaves {newest.size}..{frontier.size - 1} are past the newest checkpoint "
            "and not verified"
        )
    return verdict


def _text_or_file(value: str, what: str) -> str:
    """Return a JSON argument given inline (starting with "{") or as a file name."""
    if value.lstrip().startswith("{"):
        return value
    try:
        return Path(value).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise BadInput(f"cannot read the {what} {value}: {error}") from error


def _base64_hash(value: Any, what: str) -> bytes:
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError, TypeError):
        raise BadInput(f"the proof's {what} is not base64") from None
    if len(raw) != 32:
        raise BadInput(f"the proof's {what} is not 32 bytes")
    return raw


def verify_event(
    event_text: str,
    proof_text: str,
    heads: Sequence[SignedHead],
    *,
    verifiers: list[Verifier],
    origin: str | None,
) -> str:
    """Check one exported event's inclusion proof against a signed checkpoint; say so."""
    try:
        event = json.loads(event_text)
        proof = json.loads(proof_text)
    except ValueError as error:
        raise BadInput(f"not JSON: {error}") from error
    if not isinstance(event, dict) or not isinstance(proof, dict):
        raise BadInput("the event and the proof are JSON objects")
    data = leaf_bytes(event)
    index = event["sequence"] - 1
    size = proof.get("tree_size")
    path = proof.get("proof")
    if not isinstance(size, int) or not isinstance(path, list):
        raise BadInput("the proof needs tree_size (an integer) and proof (a list)")
    hashes = [_base64_hash(node, "path hash") for node in path]
    if proof.get("leaf_index") != index:
        raise Mismatch(f"the proof is for leaf_index {proof.get('leaf_index')!r}, not {index}")
    if "leaf_hash" in proof and _base64_hash(proof["leaf_hash"], "leaf_hash") != leaf_hash(data):
        raise Mismatch(f"leaf_index {index}: the event's fields are not those the proof hashes")
    candidates = [head for head in heads if head.checkpoint.size == size]
    if not candidates and isinstance(proof.get("checkpoint"), str):
        # The note beside the proof counts once its signature verifies with the given key.
        candidates = [
            open_head(
                proof["checkpoint"],
                verifiers=verifiers,
                origin=origin,
                source="the proof's checkpoint",
            )
        ]
    if not candidates:
        raise BadInput(f"no signed checkpoint of size {size} (give it with --checkpoints)")
    for head in candidates:
        try:
            verify_inclusion(
                leaf_hash=leaf_hash(data),
                index=index,
                size=size,
                proof=hashes,
                root=head.checkpoint.root_hash,
            )
        except InvalidProofError as error:
            raise Mismatch(f"leaf_index {index} is not in {head.source}: {error}") from error
    return (
        f"OK: the event at leaf_index {index} is in the tree of size {size} signed in "
        f"{candidates[0].source} (range verified against proofs only)"
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ocr-audit-verify",
        description="Check an audit export against signed checkpoints with the public key alone.",
    )
    parser.add_argument("--key", required=True, help="a verifier key, or a file of them")
    parser.add_argument("--origin", help="the log's origin (default: the one the checkpoints name)")
    parser.add_argument("--checkpoints", nargs="+", default=[], help="checkpoint files or dirs")
    parser.add_argument(
        "--export", nargs="+", help="the NDJSON export, from leaf_index 0 (.gz too)"
    )
    parser.add_argument("--event", help="one NDJSON line (or a file holding it)")
    parser.add_argument("--proof", help="its proof JSON from the proof API (or a file)")
    parser.add_argument(
        "--witness-key",
        action="append",
        default=[],
        help="a witness's cosignature key, or a file of them (repeatable)",
    )
    parser.add_argument(
        "--require-witnesses",
        type=int,
        default=0,
        metavar="N",
        help="exit 3 unless the newest checkpoint has valid cosignatures by N witness keys",
    )
    return parser


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


def run(arguments: Iterable[str]) -> tuple[int, str]:
    """Return the exit code and the verdict for these command-line arguments."""
    parser = _parser()
    options = parser.parse_args(list(arguments))
    try:
        if bool(options.export) == bool(options.event or options.proof):
            raise BadInput("give --export, or --event with --proof")
        if options.event and not options.proof:
            raise BadInput("--event needs --proof: a single event is verified by its proof")
        if options.require_witnesses < 0:
            raise BadInput("--require-witnesses must be 0 or more")
        witnesses = read_witness_keys(options.witness_key)
        if options.require_witnesses > len(witnesses):
            raise BadInput(
                f"--require-witnesses {options.require_witnesses} needs as many --witness-key"
            )
        verifiers = read_verifiers(options.key)
        heads = read_checkpoints(options.checkpoints, verifiers=verifiers, origin=options.origin)
        if options.export:
            verdict = verify_export(options.export, heads)
        else:
            verdict = verify_event(
                _text_or_file(options.event, "event"),
                _text_or_file(options.proof, "proof"),
                heads,
                verifiers=verifiers,
                origin=options.origin,
            )
        if options.require_witnesses:
            short = witness_shortfall(
                heads, witnesses=witnesses, required=options.require_witnesses
            )
            if short:
                return EXIT_UNWITNESSED, f"UNWITNESSED: {short} ({verdict})"
            verdict += f"; witnessed by {options.require_witnesses} or more"
        return EXIT_OK, verdict
    except Mismatch as error:
        return EXIT_MISMATCH, f"MISMATCH: {error}"
    except BadInput as error:
        return EXIT_BAD_INPUT, f"BAD INPUT: {error}"


def main() -> None:
    code, verdict = run(sys.argv[1:])
    print(verdict, file=sys.stdout if code == EXIT_OK else sys.stderr)
    sys.exit(code)


if __name__ == "__main__":
    main()
