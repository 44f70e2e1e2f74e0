"""The offline verifier's command: an export and signed checkpoints checked with public keys.

    ocr-audit-verify --key KEY_OR_FILE --checkpoints DIR_OR_FILES...
        --export events.ndjson[.gz]... [--jobs N]
    ocr-audit-verify --key KEY_OR_FILE --event LINE_OR_FILE
        --proof PROOF_JSON_OR_FILE [--checkpoints ...]

(``python -m audit.transparency.verifier`` in the project.) Needs Python and
``cryptography``, nothing else (the package's __init__ says how that is checked). No
chain key is needed; the HMAC links (``hash``) are not checked here, the tree and its
checkpoints are.

The export mode needs the full export, from leaf_index 0: a range that starts later has
no checkpoint to hold it against (verify such events one at a time with --event and
--proof). It rebuilds every leaf from its line as the server does (``exports``), and
compares the root at each checkpoint's size with the checkpoint's. Leaves past the
newest checkpoint are reported as not yet covered.

Exit codes: 0 the export (or event) reproduces every checkpoint; 1 altered: the leaves
do not reproduce a root (the verdict names the range between the last checkpoint that
held and the first that did not, one leaf when the checkpoints are that close), a
leaf_index that is not sequence - 1, or a proof that does not hold; 2 bad input: a file
that cannot be read, a line that is no event (or no UTF-8), or a checkpoint whose
signature does not verify with the key (a checkpoint by another key is not evidence
either way); 3 unwitnessed: with --require-witnesses N, the newest checkpoint given
lacks valid cosignatures by N of the --witness-key keys (c2sp.org/tlog-cosignature),
though everything else holds; 4 missing: a leaf_index the checkpoints sign is not in
the export (an event removed, the tail cut), named exactly; 5 reordered: the events are
not in leaf order (moved, swapped, or one repeated), naming the first out of place.
"""

import argparse
import base64
import binascii
import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from .checkpoint_files import (
    SignedHead,
    open_head,
    read_checkpoints,
    read_verifiers,
    read_witness_keys,
    witness_shortfall,
)
from .exports import (
    BadInput,
    comes_later,
    decode_json,
    first_undecodable,
    hashed_blocks,
    leaf_bytes,
)
from .merkle import EMPTY_ROOT, Frontier, InvalidProofError, leaf_hash, verify_inclusion
from .signed_note import Verifier

EXIT_OK = 0
EXIT_MISMATCH = 1
EXIT_BAD_INPUT = 2
EXIT_UNWITNESSED = 3
EXIT_MISSING = 4
EXIT_REORDERED = 5


class Mismatch(Exception):
    """The export or event does not reproduce a signed checkpoint: altered (exit 1)."""

    code, label = EXIT_MISMATCH, "MISMATCH"


class Missing(Mismatch):
    """An event the checkpoints sign is not in the export: removed, or the tail cut (exit 4)."""

    code, label = EXIT_MISSING, "MISSING"


class Reordered(Mismatch):
    """The export's events are not in leaf order: moved, or one repeated (exit 5)."""

    code, label = EXIT_REORDERED, "REORDERED"


def _leaves(first: int, last: int) -> str:
    return f"leaf_index {first}" if first == last else f"a leaf_index in {first}..{last}"


def _jump(paths: Sequence[str], name: str, number: int, *, found: int, expected: int) -> Exception:
    """Return the error for leaf_index `found` where `expected` is next: missing, or moved."""
    where = f"{name} line {number}"
    if expected == 0:
        return BadInput(
            f"the export starts at leaf_index {found}: the full export, from "
            "leaf_index 0, is required (verify single events with --event and --proof)"
        )
    if found < expected:
        return Reordered(
            f"leaf_index {found} comes again or out of order after {expected - 1} "
            f"({where}): the first bad leaf_index is {found}"
        )
    if comes_later(paths, after=(name, number), index=expected):
        return Reordered(
            f"leaf_index {expected} comes later than {found} ({where}): the events are "
            f"not in order from leaf_index {expected} on"
        )
    return Missing(
        f"leaf_index {expected} is missing: the export goes from {expected - 1} to "
        f"{found} ({where})"
    )


def verify_export(paths: Sequence[str], heads: Sequence[SignedHead], *, jobs: int = 1) -> str:
    """Check that the export reproduces every checkpoint's root; return the verdict.

    Raise Mismatch (or Missing, Reordered) naming the first bad leaf, BadInput for what
    cannot be read. `jobs` processes hash the leaves of a large export.
    """
    if not heads:
        raise BadInput("no checkpoint: nothing to hold the export against")
    pending = list(heads)
    while pending and pending[0].checkpoint.size == 0:  # the empty tree: nothing to rebuild
        if pending[0].checkpoint.root_hash != EMPTY_ROOT:
            raise Mismatch(f"{pending[0].source} signs an empty tree whose root is not empty")
        pending.pop(0)
    frontier = Frontier()
    held = 0  # the size of the largest checkpoint that held so far
    for block in hashed_blocks(paths, jobs=jobs):
        if block.first_index is not None and block.first_index != frontier.size:
            raise _jump(
                paths,
                block.name,
                block.first_line,
                found=block.first_index,
                expected=frontier.size,
            )
        leaves = [block.leaves[start : start + 32] for start in range(0, len(block.leaves), 32)]
        start = 0
        while start < len(leaves):
            # Up to the next checkpoint's size at most, to compare its root there.
            end = len(leaves)
            if pending:
                end = min(end, start + pending[0].checkpoint.size - frontier.size)
            frontier.extend(leaves[start:end])
            start = end
            while pending and pending[0].checkpoint.size == frontier.size:
                head = pending.pop(0)
                if frontier.root() != head.checkpoint.root_hash:
                    if undecodable := first_undecodable(paths):
                        raise BadInput(f"{undecodable} is not UTF-8")
                    raise Mismatch(
                        f"the leaves 0..{frontier.size - 1} do not reproduce the root of "
                        f"{head.source} (size {head.checkpoint.size}): the first bad leaf is "
                        f"{_leaves(held, frontier.size - 1)}"
                    )
                held = frontier.size
        if block.problem is not None:
            kind, number, text = block.problem
            if kind == "bad":
                raise BadInput(f"{block.name} line {number}: {text}")
            if kind == "mismatch":
                raise Mismatch(f"{block.name} line {number}: {text}")
            raise _jump(paths, block.name, number, found=int(text), expected=frontier.size)
    if pending:
        head = pending[0]
        raise Missing(
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
        event = decode_json(event_text)
        proof = decode_json(proof_text)
    except ValueError as error:
        raise BadInput(f"not JSON: {error}") from error
    if not isinstance(event, dict) or not isinstance(proof, dict):
        raise BadInput("the event and the proof are JSON objects")
    try:
        data = leaf_bytes(event)
    except RecursionError:  # decoded, but too deep to encode again
        raise BadInput("not JSON: nested too deeply") from None
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


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


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
        "--jobs",
        type=int,
        default=_cpus(),
        help="processes that hash a large export's leaves (default: the CPUs usable, %(default)s)",
    )
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
            verdict = verify_export(options.export, heads, jobs=options.jobs)
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
        return error.code, f"{error.label}: {error}"
    except BadInput as error:
        return EXIT_BAD_INPUT, f"BAD INPUT: {error}"


def main() -> None:
    """Run the command (``ocr-audit-verify``): print the verdict, exit with its code."""
    code, verdict = run(sys.argv[1:])
    print(verdict, file=sys.stdout if code == EXIT_OK else sys.stderr)
    sys.exit(code)


if __name__ == "__main__":
    main()
