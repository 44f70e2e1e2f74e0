"""An NDJSON export rebuilt into the tree, fast: leaves hashed in blocks, by several processes.

Each line's leaf is its event's canonical record (``records.row_payload``). The
reference way to get it is ``leaf_bytes(json.loads(line))``; it costs about 10 µs a
line, mostly in decoding the JSON and encoding it again. ``fast_leaf_bytes`` takes a
line in the exact layout the service writes (audit/export.py's NDJSON line) and builds
the record from the line's own bytes: every string of the line that is already in its
canonical form (what ``json.encoder.encode_basestring`` writes: only ``"``, ``\\`` and
control characters escaped, the latter as the encoder spells them) is copied as it is,
the metadata is decoded and encoded once per distinct text. A line it does not
recognise goes the reference way, so the leaf is the same either way (a test checks
both on crafted lines); the fast way only saves time.

Blocks of about 4 MB are hashed by a pool of processes (``jobs``): each reads its own
byte range of a plain file; a .gz is decompressed by the parent and its blocks sent.
The parent keeps the tree's frontier, compares roots at each checkpoint's size, and
stops at the first problem, which it reports as one process would.
"""

import gzip
import hashlib
import itertools
import json
import multiprocessing
import operator
import os
import re
import sys
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from .records import HASHED_FIELDS, canonical_json, row_payload

BLOCK_BYTES = 4 << 20  # lines are cut into blocks of about this many bytes
# Fewer blocks than this (16 MB of NDJSON) cost less than starting processes.
POOL_MIN_BLOCKS = 4

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


# A JSON string exactly as encode_basestring writes it: any character but '"', '\' and
# controls; those as \" \\ \b \f \n \r \t, the other controls as \u00xx (lower case).
# Unrolled (runs of plain characters, then one escape) and possessive: no backtracking.
_PLAIN_RUN = rb'[^"\\\x00-\x1f]*+'
_CONTENT = _PLAIN_RUN + rb'(?:\\(?:["\\bfnrt]|u00(?:0[0-7bef]|1[0-9a-f]))' + _PLAIN_RUN + rb")*+"
_STRING = rb'"' + _CONTENT + rb'"'
_PLAIN = rb'"' + _PLAIN_RUN + rb'"'  # a string with nothing escaped (the timestamp)
# At most 19 digits (a leaf index is below 2^63): a longer number goes the reference
# way, which refuses what int() cannot read (over 4,300 digits) rather than crash on it.
_NUMBER = rb"(0|[1-9][0-9]{0,18})"
# The ip_address is captured without its quotes; null captures nothing, written "" in the
# record, as row_payload writes a missing address. The metadata is the shortest text
# before the line's fixed tail; only one split can leave a tail that ends the line.
_LINE_BODY = (
    rb'\{"id": [1-9][0-9]*, "sequence": ' + _NUMBER + rb', "timestamp": (' + _PLAIN + rb")"
    rb', "event_type": (' + _STRING + rb'), "category": (' + _STRING + rb")"
    rb', "outcome": (' + _STRING + rb'), "user_id": (?:[1-9][0-9]*|null)'
    rb', "username": (' + _STRING + rb'), "ip_address": (?:"(' + _CONTENT + rb')"|null)'
    rb', "user_agent": (' + _STRING + rb'), "request_id": (' + _STRING + rb")"
    rb', "resource_type": (' + _STRING + rb'), "resource_id": (' + _STRING + rb")"
    rb', "message": (' + _STRING + rb'), "metadata": (.*?)'
    rb', "prev_hash": ("[0-9a-f]{64}"), "leaf_index": ' + _NUMBER + rb"\}"
)
_LINE = re.compile(_LINE_BODY + rb"\r?\n?", re.DOTALL)
# Every line of a block at once (one call, not one a line): "." stops at a newline, so a
# match is one whole line, and as many matches as lines means every line is one.
_BLOCK = re.compile(rb"^" + _LINE_BODY + rb"\r?(?:\n|\Z)", re.MULTILINE)
# What _LINE captures, in order; the record is these (less leaf_index) in sorted key
# order, as canonical_json writes them and row_payload does.
_GROUPS = (*HASHED_FIELDS, "leaf_index")
_ORDER = [_GROUPS.index(name) + 1 for name in sorted(HASHED_FIELDS)]  # group numbers
_TEMPLATE = (
    b"{" + b",".join(b'"%s":%%s' % name.encode() for name in sorted(HASHED_FIELDS)) + b"}"
).replace(b'"ip_address":%s', b'"ip_address":"%s"')
_METADATA = sorted(HASHED_FIELDS).index("metadata")  # in the record's order
_METADATA_GROUP = _GROUPS.index("metadata")  # in a findall tuple
_SEQUENCE = _GROUPS.index("sequence") + 1
_LEAF_INDEX = _GROUPS.index("leaf_index") + 1
_LEAF = b"\x00" + _TEMPLATE  # the leaf hash's input: 0x00 || record
_known_metadata: dict[bytes, bytes] = {}


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Build a JSON object, refusing a name that comes twice (object_pairs_hook).

    json.loads keeps the last of two equal names and some other readers the first, so
    a line could show an auditor's tool one username and hash another. The service never
    writes one twice.
    """
    document = dict(pairs)
    if len(document) != len(pairs):
        seen: set[str] = set()
        for name, _ in pairs:
            if name in seen:
                raise ValueError(f"the name {name!r} appears twice in one object")
            seen.add(name)
    return document


def decode_json(text: str | bytes) -> Any:
    """Return the value of a JSON text; ValueError if it is none, or names a key twice.

    Nesting too deep for the decoder (thousands of levels, RecursionError) is a
    ValueError too: no event of the service is nested so.
    """
    try:
        return json.loads(text, object_pairs_hook=_unique_keys)
    except RecursionError:
        raise ValueError("nested too deeply") from None


def _canonical_metadata(text: bytes) -> bytes | None:
    """Return the canonical JSON of metadata text, remembered; None if it is no JSON."""
    try:
        canonical = canonical_json(decode_json(text.decode("utf-8"))).encode("utf-8")
    except (ValueError, RecursionError):  # not JSON (or not ours): the reference way says why
        return None
    if len(_known_metadata) >= 4096:
        _known_metadata.clear()  # trails repeat a few documents; no LRU bookkeeping
    _known_metadata[text] = canonical
    return canonical


def _fast_block(data: bytes, lines: int) -> tuple[list[bytes], int] | None:
    """Return the leaf hashes and first leaf_index of a block in the service's layout.

    None unless every line is (as fast_leaf_bytes sees it) and each leaf_index is the
    one before plus one and sequence - 1: the block then goes line by line, which
    names what is wrong. The hashes are those of the line-by-line way.
    """
    found = _BLOCK.findall(data)
    if not found or len(found) != lines:
        return None
    first = int(found[0][-1])
    # Whole columns compared at once, in C, rather than two int() a line.
    leaf_indexes = list(map(int, map(operator.itemgetter(-1), found)))
    sequences = list(map(int, map(operator.itemgetter(0), found)))
    if leaf_indexes != list(range(first, first + len(found))) or sequences != list(
        range(first + 1, first + 1 + len(found))
    ):
        return None
    metadata = {}  # each distinct text of the block, canonical
    for text in {groups[_METADATA_GROUP] for groups in found}:
        canonical = _known_metadata.get(text) or _canonical_metadata(text)
        if canonical is None:
            return None
        metadata[text] = canonical
    sha256, leaf = hashlib.sha256, _LEAF
    hashes = [
        sha256(
            leaf % (cat, et, ip, msg, metadata[meta], out, prev, rid, res, rtype, seq, ts, ua, user)
        ).digest()
        for seq, ts, et, cat, out, user, ip, ua, rid, rtype, res, msg, meta, prev, _ in found
    ]
    return hashes, first


def fast_leaf_bytes(line: bytes) -> tuple[bytes, int, int] | None:
    """Return (leaf bytes, sequence, leaf_index) of a line in the service's layout, or None.

    None: the line is not in that exact layout (or its metadata is no JSON); take it
    the reference way. The leaf bytes equal leaf_bytes(json.loads(line)) whenever this
    returns them.
    """
    match = _LINE.fullmatch(line)
    if match is None:
        return None
    values = list(match.group(*_ORDER))
    canonical = _known_metadata.get(values[_METADATA]) or _canonical_metadata(values[_METADATA])
    if canonical is None:
        return None
    values[_METADATA] = canonical
    values = [b"" if value is None else value for value in values]  # ip_address null
    return _TEMPLATE % tuple(values), int(match[_SEQUENCE]), int(match[_LEAF_INDEX])


@dataclass
class Block:
    """What a block of lines gave: its leaf hashes and the first problem in it, if any.

    ``leaves`` holds one 32-byte hash per event line, in order, up to the problem.
    ``first_index`` is the leaf_index of the block's first event line (None if it has
    none), ``first_line`` that line's number. A problem is (kind, line number, text):
    "bad" (exit 2), "mismatch" (a line whose leaf_index is not sequence - 1), or "jump"
    (the next line's leaf_index is not one more than the last; text is that leaf_index).
    Line numbers count from the block's first line as 1 until hashed_blocks makes them
    the file's.
    """

    name: str
    leaves: bytes
    first_index: int | None
    first_line: int = 0
    problem: tuple[str, int, str] | None = None
    lines: int = 0  # the newlines in the block: where the next block's numbers start


def hash_block(name: str, first_line: int, data: bytes) -> Block:
    """Return the leaf hashes of a block of whole lines (first_line: its first line's number)."""
    sha256 = hashlib.sha256
    hashes: list[bytes] = []
    first_index: int | None = None
    first_number = expected = -1
    # The bytes are not decoded first (a tenth of the time): bytes that are no UTF-8
    # cannot hash to a leaf the service made, and verify_export looks for them when a
    # root does not match (first_undecodable), to say so rather than "altered".
    lines = data.count(b"\n")
    fast_block = _fast_block(data, lines + (not data.endswith(b"\n")))
    if fast_block is not None:
        return Block(name, b"".join(fast_block[0]), fast_block[1], first_line, lines=lines)
    for number, line in enumerate(data.splitlines(keepends=True), start=first_line):
        fast = fast_leaf_bytes(line)
        if fast is not None:
            record, sequence, index = fast
        else:
            if not line.strip():
                continue
            try:
                record, sequence, index = _reference_leaf(line)
            except BadInput as error:
                problem = ("bad", number, str(error))
                return Block(name, b"".join(hashes), first_index, first_number, problem, lines)
        if index != sequence - 1:
            problem = (
                "mismatch",
                number,
                f"leaf_index {index} is not sequence - 1 ({sequence - 1})",
            )
            return Block(name, b"".join(hashes), first_index, first_number, problem, lines)
        if first_index is None:
            first_index, first_number, expected = index, number, index
        elif index != expected:
            problem = ("jump", number, str(index))
            return Block(name, b"".join(hashes), first_index, first_number, problem, lines)
        hashes.append(sha256(b"\x00" + record).digest())
        expected += 1
    return Block(name, b"".join(hashes), first_index, first_number, lines=lines)


def _reference_leaf(line: bytes) -> tuple[bytes, int, int]:
    try:
        event = decode_json(line.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise BadInput(f"not JSON: {error}") from error
    if not isinstance(event, dict):
        raise BadInput("not a JSON object")
    try:
        record = leaf_bytes(event)
    except RecursionError:  # decoded, but too deep to encode again
        raise BadInput("not JSON: nested too deeply") from None
    sequence = event["sequence"]
    index = event.get("leaf_index", sequence - 1)
    if not isinstance(index, int) or isinstance(index, bool):
        raise BadInput("the field 'leaf_index' is not an integer")
    return record, sequence, index


def read_blocks(paths: Sequence[str]) -> Iterator[tuple[str, int, bytes]]:
    """Yield (file, first line number, whole lines) of the export files; .gz is decompressed."""
    for name in paths:
        try:
            with gzip.open(name, "rb") if name.endswith(".gz") else open(name, "rb") as handle:
                number, carry = 1, b""
                while chunk := handle.read(BLOCK_BYTES):
                    data = carry + chunk
                    cut = data.rfind(b"\n") + 1
                    if cut:
                        yield name, number, data[:cut]
                        number += data.count(b"\n", 0, cut)
                    carry = data[cut:]
                if carry:
                    yield name, number, carry
        except (OSError, EOFError, gzip.BadGzipFile) as error:
            raise BadInput(f"cannot read {name}: {error}") from error


def _hash_job(job: tuple[str, int, bytes]) -> Block:
    return hash_block(job[0], 1, job[2])


def _hash_range(job: tuple[str, int, int]) -> Block:
    """Hash the lines that start in bytes [offset, offset + size) of a file, read here.

    The line running over the end is read to its end; the one running in from before
    is left to the block before, which read it.
    """
    name, offset, size = job
    try:
        with open(name, "rb") as handle:
            if offset:
                handle.seek(offset - 1)
                if handle.read(1) != b"\n":
                    handle.readline()
            start = handle.tell()
            data = handle.read(offset + size - start) if start < offset + size else b""
            if data and not data.endswith(b"\n"):
                data += handle.readline()
    except OSError as error:
        raise BadInput(f"cannot read {name}: {error}") from error
    return hash_block(name, 1, data)


def _pool(jobs: int) -> Any:
    # fork where it is safe (Linux, no other thread) costs no start-up: nothing to import
    # again; otherwise spawn (forking a process that has threads is unsafe, and deprecated).
    if sys.platform == "linux" and threading.active_count() == 1:
        return multiprocessing.get_context("fork").Pool(jobs)
    return multiprocessing.get_context("spawn").Pool(jobs)


def _file_blocks(name: str, *, jobs: int) -> Iterator[Block]:
    if jobs > 1 and not name.endswith(".gz"):
        try:
            size = os.path.getsize(name)
        except OSError as error:
            raise BadInput(f"cannot read {name}: {error}") from error
        if size >= POOL_MIN_BLOCKS * BLOCK_BYTES:
            # Each worker reads its own range: the lines never go through a pipe.
            ranges = [(name, offset, BLOCK_BYTES) for offset in range(0, size, BLOCK_BYTES)]
            with _pool(jobs) as pool:  # leaving the block stops the workers
                yield from pool.imap(_hash_range, ranges)
            return
    blocks = read_blocks([name])  # decompressed here, hashed by the workers
    first = list(itertools.islice(blocks, POOL_MIN_BLOCKS))
    if jobs <= 1 or len(first) < POOL_MIN_BLOCKS:
        for job in itertools.chain(first, blocks):
            yield _hash_job(job)
        return
    with _pool(jobs) as pool:
        yield from pool.imap(_hash_job, itertools.chain(first, blocks))


def hashed_blocks(paths: Sequence[str], *, jobs: int) -> Iterator[Block]:
    """Yield the export's blocks hashed, in order; by `jobs` processes for a large export.

    Line numbers are made the file's (hash_block counts from each block's start).
    """
    for name in paths:
        number = 1
        for block in _file_blocks(name, jobs=jobs):
            shift = number - 1
            block.first_line += shift
            if block.problem is not None:
                kind, line, text = block.problem
                block.problem = (kind, line + shift, text)
            number += block.lines
            yield block


def first_undecodable(paths: Sequence[str]) -> str | None:
    """Return "file line N" of the export's first line that is not UTF-8, or None."""
    for name, first_line, data in read_blocks(paths):
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            for number, line in enumerate(data.splitlines(), start=first_line):
                try:
                    line.decode("utf-8")
                except UnicodeDecodeError:
                    return f"{name} line {number}"
    return None


def leaf_index_at(line: bytes) -> int | None:
    """Return a line's leaf_index (sequence - 1 if it names none), None if it has neither."""
    fast = fast_leaf_bytes(line)
    if fast is not None:
        return fast[2]
    try:
        return _reference_leaf(line)[2]
    except BadInput:
        return None


def comes_later(paths: Sequence[str], *, after: tuple[str, int], index: int) -> bool:
    """Return True if a line after (file, line number) of the export has this leaf_index."""
    seen = False
    for name, first_line, data in read_blocks(paths):
        lines = data.splitlines(keepends=True)
        if not seen:
            if name != after[0] or first_line + len(lines) <= after[1]:
                continue
            lines = lines[after[1] - first_line + 1 :]
            seen = True
        if any(leaf_index_at(line) == index for line in lines):
            return True
    return False
