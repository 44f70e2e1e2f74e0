"""The writer MAC, and why an unsealed row must not be linked (the rows the sealer refuses)."""

import hmac
import logging
import secrets
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime

from django.db import connection

from ..chain import (
    GENESIS_HASH,
    HASHED_FIELDS,
    CanonicalMetadata,
    KeyRing,
    canonical_timestamp,
    key_ring,
    writer_mac,
)
from ..expressions import stored_timestamp_text, values_as_text
from ..models import AuditEvent, ChainHead
from ..verification.copies import repeated_writer_macs
from .heads import (
    _METADATA,
    _PREV_HASH,
    _SEQUENCE,
    _TIMESTAMP,
    WRITER_CLOCK_TOLERANCE,
    Head,
    head_row,
)

# Diagnostics, on standard error; the SIEM stream has a sink of its own (audit/siem).
logger = logging.getLogger("audit_sealer")

# 48 random bits, 8 characters of base64url: the tag stays within writer_mac's 120.
NONCE_BYTES = 6


@dataclass(frozen=True)
class Refusal:
    """An unsealed row the sealer will not link, and why."""

    event_id: int
    reason: str

    def __str__(self) -> str:
        return f"unsealed event id {self.event_id} {self.reason}"


def writer_tag(event: AuditEvent, *, stamp: datetime) -> str:
    """Return what record_event stores in writer_mac: "<key id> <stamp> <nonce> <MAC>".

    `stamp` is the writer's clock: the row's own timestamp where the application
    stamps it, else the time just before the INSERT that the database stamps. The
    nonce makes every genuine event's tag its own: two events of the same fields at
    the same microsecond (two hosts, or a clock stepped back, which stamps events at
    the head's time) would otherwise share one, and the unique index on the tag that
    refuses a replayed copy would refuse the second genuine event too.
    """
    key = key_ring().signing
    written = canonical_timestamp(stamp)
    values = [getattr(event, name) for name in HASHED_FIELDS]
    values[_SEQUENCE], values[_TIMESTAMP], values[_PREV_HASH] = 0, written, ""
    nonce = secrets.token_urlsafe(NONCE_BYTES)
    return f"{key.key_id} {written} {nonce} {writer_mac(tuple(values), key, nonce=nonce)}"


def parse_tag(tag: str) -> tuple[str, str, str, str]:
    """Return (key id, writer's clock, nonce, MAC) of a writer tag; nonce "" in older tags.

    Only a tag as writer_tag spells it, one space between non-empty fields, is read;
    any other reads as no tag ("", "", "", ""). A copy spelled otherwise ("<id> <clock>
    <MAC>" with a second space: an empty nonce, so the same MAC) is another string to
    the unique index on writer MACs, and was linked as the event it copies.
    """
    fields = (tag or "").split(" ")
    if len(fields) == 3:
        fields.insert(2, "")  # written before nonces
    elif len(fields) != 4 or not fields[2]:
        return "", "", "", ""
    if not all(fields[:2]) or not fields[3]:
        return "", "", "", ""
    key_id, written, nonce, digest = fields
    return key_id, written, nonce, digest


def refusal_reason(fields: list, tag: str, *, head: Head, ring: KeyRing) -> str | None:
    """Return why an unsealed row (HASHED_FIELDS, timestamp as text) must not be linked.

    Only record_event writes rows the sealer may link: it holds the chain key and MACs
    every event it writes (writer_tag). Anything else is someone's INSERT or UPDATE.
    Linked, it would pass for a genuine event or, stamped before the head, break the
    chain for good (every later verification and checkpoint would stop at it).
    """
    text = fields[_TIMESTAMP]
    stamp = parse_timestamp(text) if text is not None else None
    if stamp is None:
        return "has a timestamp that is not a date and time"
    if fields[_METADATA] is None:  # read_unsealed could not read it as JSON
        return "has metadata that is no readable JSON (not recorded by record_event)"
    key_id, written, nonce, digest = parse_tag(tag)
    written_at = parse_timestamp(written) if written else None
    if not digest or written_at is None:
        return "has no writer MAC (not recorded by record_event)"
    key = ring.get(key_id)
    if key is None:
        return f"has a writer MAC under key id {key_id!r}, which AUDIT_CHAIN_KEYS does not hold"
    values = list(fields)
    values[_SEQUENCE], values[_TIMESTAMP], values[_PREV_HASH] = 0, written, ""
    if not hmac.compare_digest(writer_mac(tuple(values), key, nonce=nonce), digest):
        return (
            "has a writer MAC that does not match its fields "
            "(changed after record_event wrote it, or not written by it)"
        )
    if head[2] is not None and stamp < head[2]:
        return f"is stamped before the chain head #{head[0]} ({text})"
    drift = abs((stamp - written_at).total_seconds())
    if drift > WRITER_CLOCK_TOLERANCE.total_seconds():
        return (
            f"is stamped {drift:,.0f} s from when its writer recorded it ({written}): "
            "a copy of another event"
        )
    if connection.vendor != "postgresql" and stamp != written_at:
        # SQLite: the application stamps the row with the very reading the MAC holds, so
        # any other stamp was written after it (no trigger refuses an UPDATE there).
        # PostgreSQL stamps at the INSERT, after the reading; its trigger refuses the
        # UPDATE instead.
        return f"is stamped {text}, not at its writer's reading {written}: moved since"
    return None


def parse_timestamp(text: str) -> datetime | None:
    """Return the datetime of a canonical timestamp text, or None if it is not one."""
    try:
        return datetime.fromisoformat(text)
    except ValueError:  # "…T19:32:60…", a year below 1000 (unpadded): none is genuine
        return None


def read_unsealed(queryset, *, limit: int) -> Iterator[tuple[int, list, str]]:
    """Yield (id, [HASHED_FIELDS values], writer MAC) of the queryset's events."""
    canonical = CanonicalMetadata()
    # The link is computed from the values as the verifier will read them back: the
    # database's canonical timestamp text and its JSON text made canonical.
    columns = ("id", *HASHED_FIELDS, "writer_mac")
    for values in values_as_text(queryset[:limit], columns, chunk_size=limit):
        event_id, fields, tag = values[0], list(values[1:-1]), values[-1]
        if fields[_TIMESTAMP] is None:
            with suppress(ValueError):  # left None: refused as not a date and time
                fields[_TIMESTAMP] = stored_timestamp_text(AuditEvent, pk=event_id)
        try:
            fields[_METADATA] = canonical(fields[_METADATA])
        except (ValueError, TypeError, RecursionError):
            # Not JSON, or nested deeper than the decoder goes: refused below. Raised,
            # it failed every round at this row, and nothing after it was ever sealed.
            fields[_METADATA] = None
        yield event_id, fields, tag


def unsealed_rows(
    *,
    cutoff: datetime | None,
    limit: int,
    head: Head,
    ring: KeyRing,
    ids: list[int] | None = None,
) -> tuple[list[tuple[int, list]], list[Refusal]]:
    """Return up to `limit` unsealed events to link, oldest first, and those refused."""
    queryset = AuditEvent.objects.filter(sequence__isnull=True)
    if ids is not None:
        # Inline: the writer's own event(s), in the order it recorded them.
        queryset = queryset.filter(pk__in=ids).order_by("id")
    else:
        queryset = queryset.order_by("timestamp", "id")
        if head[2] is not None:
            # Rows stamped before the head can never be linked; reading them again
            # every round would only cost (verification reports them).
            queryset = queryset.filter(timestamp__gte=head[2])
    if cutoff is not None:
        queryset = queryset.filter(timestamp__lt=cutoff)
    rows: list[tuple[int, list]] = []
    refused: list[Refusal] = []
    offset = 0
    # A page full of refused rows does not end the round: rows behind it would starve.
    while len(rows) < limit:
        page = list(read_unsealed(queryset[offset:], limit=limit))
        offset += len(page)
        for event_id, fields, tag in page:
            reason = refusal_reason(fields, tag, head=head, ring=ring)
            if reason is None:
                rows.append((event_id, fields))
            else:
                refused.append(Refusal(event_id, reason))
        if len(page) < limit:
            break
    return rows[:limit], refused


def refused_events(*, limit: int = 100_000) -> list[Refusal]:
    """Return the unsealed rows the sealer will not link (of the oldest `limit`)."""
    head = head_row(ChainHead.objects.filter(pk=1)) or (0, GENESIS_HASH, None, "")
    ring = key_ring()
    queryset = AuditEvent.objects.filter(sequence__isnull=True).order_by("timestamp", "id")
    refused = []
    for event_id, fields, tag in read_unsealed(queryset, limit=limit):
        reason = refusal_reason(fields, tag, head=head, ring=ring)
        if reason is not None:
            refused.append(Refusal(event_id, reason))
    # A copy's MAC holds: it is told by the row it repeats (only once the unique
    # constraint that refuses its INSERT is gone).
    for (first, _), *others in repeated_writer_macs():
        refused += [
            Refusal(event_id, f"repeats the writer MAC of event id {first}: a copy of it")
            for event_id, sequence in others
            if sequence is None
        ]
    return refused


_warned: set[int] = set()


def warn_refused(refused: list[Refusal]) -> None:
    """Log each refused row once per process (it is met again until the head passes it)."""
    if len(_warned) > 100_000:  # a flood of forged rows: say it again rather than grow
        _warned.clear()
    for refusal in refused:
        if refusal.event_id not in _warned:
            _warned.add(refusal.event_id)
            logger.error("not sealing %s", refusal)
