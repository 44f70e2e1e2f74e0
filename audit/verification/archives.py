"""Retention archives: read their rows, fingerprint them, verify one as a chain of its own."""

import gzip
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

from ..chain import (
    PLAIN,
)
from ..models import AuditEvent
from .rows import (
    _KEY_ID,
    _PREV_HASH,
    PRUNE_EVENT,
    ROW_FIELDS,
    ChainBroken,
    ChainWalk,
    Link,
    VerificationResult,
    parse_canonical_timestamp,
)


def archive_rows(path: Path) -> Iterator[tuple]:
    """Yield the events of a retention archive as ROW_FIELDS tuples."""
    number = 0
    try:
        with gzip.open(path, "rt", encoding="utf-8") as lines:
            for line in lines:
                number += 1
                document = json.loads(line)
                document["timestamp"] = parse_canonical_timestamp(document["timestamp"])
                document.setdefault("key_id", PLAIN)  # archives written before keyed links
                yield tuple(document[name] for name in ROW_FIELDS)
    except (ValueError, KeyError, TypeError) as error:
        raise ChainBroken(None, f"archive line {number} is not an event: {error}") from error
    except (OSError, EOFError) as error:
        # A truncated or corrupted gzip stream, or a file that is not gzip at all.
        raise ChainBroken(None, f"archive unreadable after line {number}: {error}") from error


def file_sha256(path: Path) -> str:
    """Return the SHA-256 hex digest of a file, read a block at a time."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_archive(path: Path) -> VerificationResult:
    """Recompute the hashes and links inside a retention archive.

    The archive must be one unbroken stretch of the chain; its SHA-256 is looked up
    among the audit_prune events so the file is also shown to be the one recorded.
    """
    walk = ChainWalk(previous=None)
    rows = iter(archive_rows(path))
    try:
        first = next(rows, None)
        if first is None:
            raise ChainBroken(None, "the archive holds no events")
        # The archive's first row follows a link that is not in the file: trust it.
        walk.previous = Link(first[0] - 1, first[_PREV_HASH], None, first[_KEY_ID])
        walk.walk([first])
        walk.walk(rows)
    except ChainBroken as broken:
        return VerificationResult(
            ok=False,
            rows_checked=walk.rows_checked,
            first_bad_sequence=broken.sequence,
            reason=broken.reason,
            first_sequence=walk.first_sequence,
            last_sequence=walk.previous.sequence if walk.previous else None,
        )
    digest = file_sha256(path)
    recorded = AuditEvent.objects.filter(
        event_type=PRUNE_EVENT, sequence__isnull=False, metadata__archive_sha256=digest
    ).values_list("sequence", flat=True)
    prune_sequence = recorded.first()
    reason = (
        f"archive intact; recorded by audit_prune event #{prune_sequence}"
        if prune_sequence is not None
        else "archive intact; no audit_prune event in this database records its SHA-256"
    )
    return VerificationResult(
        ok=True,
        rows_checked=walk.rows_checked,
        reason=reason,
        first_sequence=walk.first_sequence,
        last_sequence=walk.previous.sequence if walk.previous else None,
    )
