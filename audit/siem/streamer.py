"""Write every sealed event to the stream once, in sequence order, with its link.

Lines are written by the sealer lease holder after it sealed (audit/sealing/,
run_sealer), never by the process that recorded the event: every line then carries
its sequence, hash, prev_hash, key id and leaf index, and events recorded by any
process (the web, the worker, `manage.py shell`, createsuperuser, audit_retention)
reach the stream, because the one sealer sees every row.

Exactly once. A stream round, in one transaction: renew the sealer lease (the fence,
audit/lease.py), read the position (AuditStreamPosition), write the events after it
to the sink, advance the position, commit. A sealer that dies after writing and
before committing leaves the lines written but the position behind: the next holder
would write them again. A file sink says what it holds: each round reads its last
lines back, and an event line whose sequence and hash match the trail moves the
position up to it. So with a file sink nothing is repeated or lost across a kill, a
restart or a takeover on the same host. A syslog or stdout sink cannot be read back:
a sealer dying in that window (between a write and its commit) repeats that batch
once, lines identical to the sequence and hash (docs/siem.md).

Signed HMAC checkpoints go out the same way (json format), after the event they sign.
"""

import json
import logging
import re
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ..chain import canonical_timestamp
from ..lease import LeaseHolder, sealer_lease
from ..models import AuditCheckpoint, AuditEvent, AuditStreamPosition, ChainHead
from .cef import cef_line
from .documents import Writer, checkpoint_document, event_document, this_writer
from .ocsf import ocsf_event
from .sinks import Line, Sink, SinkSpec, open_sink, parse_stream_setting

logger = logging.getLogger("audit_sealer")

POSITION = "stream"
FORMATS = ("json", "ocsf", "cef")
# OCSF severity_id -> syslog severity: Informational -> info ... High -> error.
SYSLOG_SEVERITY = {1: 6, 2: 5, 3: 4, 4: 3}
CEF_SEQUENCE = re.compile(r"(?:^|\s)cn1=(\d+)(?:\s|$)")
CEF_HASH = re.compile(r"(?:^|\s)cs1=([0-9a-f]{64})(?:\s|$)")

_sink: tuple[str, Sink | None] | None = None


def configured_sink() -> Sink | None:
    """Return this process's sink for settings.AUDIT_STREAM (None: off)."""
    global _sink
    if _sink is None or _sink[0] != settings.AUDIT_STREAM:
        if _sink is not None and _sink[1] is not None:
            _sink[1].close()
        spec: SinkSpec = parse_stream_setting(settings.AUDIT_STREAM)
        timeout = max(0.5, settings.AUDIT_SEALER_LEASE_SECONDS / 2)
        _sink = (settings.AUDIT_STREAM, open_sink(spec, writer=this_writer(), timeout=timeout))
    return _sink[1]


def render(document: dict[str, Any], writer: Writer, *, fmt: str) -> str:
    """Return the line of an event document in the configured format (one line, ASCII JSON)."""
    if fmt == "ocsf":
        return json.dumps(ocsf_event(document, writer), ensure_ascii=True, sort_keys=True)
    if fmt == "cef":
        return cef_line(document, writer)
    # ensure_ascii keeps every byte printable: one event is exactly one line.
    return json.dumps({**document, **writer.fields()}, ensure_ascii=True, sort_keys=True)


def event_line(event: AuditEvent, writer: Writer, *, fmt: str) -> Line:
    document = event_document(event)
    severity = ocsf_event(document, writer)["severity_id"]
    return Line(
        text=render(document, writer, fmt=fmt),
        timestamp=document["timestamp"],
        msgid=event.event_type,
        severity=SYSLOG_SEVERITY.get(severity, 6),
        sequence=event.sequence,
    )


def checkpoint_line(record: AuditCheckpoint, writer: Writer) -> Line:
    document = {"audit_checkpoint": checkpoint_document(record), **writer.fields()}
    return Line(
        text=json.dumps(document, ensure_ascii=True, sort_keys=True),
        timestamp=canonical_timestamp(record.created_at),
        msgid="audit_checkpoint",
        severity=6,
    )


def line_identity(text: str) -> tuple[str, int, str] | None:
    """Return ("event", sequence, hash) or ("checkpoint", sequence, signature) of a line."""
    if text.startswith("CEF:"):
        sequence, digest = CEF_SEQUENCE.search(text), CEF_HASH.search(text)
        if sequence and digest:
            return "event", int(sequence.group(1)), digest.group(1)
        return None
    try:
        document = json.loads(text)
    except ValueError:
        return None
    if not isinstance(document, dict):
        return None
    if isinstance(document.get("audit_checkpoint"), dict):
        checkpoint = document["audit_checkpoint"]
        return "checkpoint", int(checkpoint.get("sequence", 0)), str(checkpoint.get("signature"))
    if isinstance(document.get("metadata"), dict) and "class_uid" in document:  # OCSF
        unmapped = document.get("unmapped") or {}
        sequence = document["metadata"].get("sequence")
        if isinstance(sequence, int):
            return "event", sequence, str(unmapped.get("hash"))
        return None
    if isinstance(document.get("sequence"), int):
        return "event", document["sequence"], str(document.get("hash"))
    return None


def sink_position(sink: Sink, position: AuditStreamPosition) -> tuple[int, int]:
    """Return (sequence, checkpoint id) the sink proves it holds, at least the position's.

    A line counts only if the trail holds the same event (sequence and hash) or the same
    checkpoint: a file left from another database moves nothing.
    """
    sequence, checkpoint_id = position.sequence, position.checkpoint_id
    found_event = found_checkpoint = False
    for text in reversed(sink.tail()):
        identity = line_identity(text)
        if identity is None:
            continue
        kind, number, proof = identity
        if kind == "event" and not found_event:
            found_event = True
            if (
                number > sequence
                and AuditEvent.objects.filter(sequence=number, hash=proof).exists()
            ):
                logger.warning(
                    "the stream holds events up to #%d past its recorded position #%d "
                    "(a sealer stopped between writing and committing); going on from #%d",
                    number,
                    sequence,
                    number,
                )
                sequence = number
        elif kind == "checkpoint" and not found_checkpoint:
            found_checkpoint = True
            record = (
                AuditCheckpoint.objects.filter(sequence=number, signature=proof)
                .order_by("-pk")
                .first()
            )
            if record is not None and record.pk > checkpoint_id:
                checkpoint_id = record.pk
        if found_event and found_checkpoint:
            break
    return sequence, checkpoint_id


def locked_position() -> AuditStreamPosition:
    rows = AuditStreamPosition.objects.select_for_update().filter(name=POSITION)
    position = rows.first()
    if position is None:
        AuditStreamPosition.objects.bulk_create(
            [AuditStreamPosition(name=POSITION)], ignore_conflicts=True
        )
        position = rows.get()
    return position


def stream_batch(*, sink: Sink, limit: int, lease: LeaseHolder) -> int | None:
    """Write the next sealed events (and due checkpoints); return how many, None if not holder."""
    fmt = settings.AUDIT_STREAM_FORMAT
    writer = this_writer()
    with transaction.atomic():
        if not lease.hold():
            return None
        position = locked_position()
        head = ChainHead.objects.filter(pk=1).values_list("sequence", flat=True).first() or 0
        newer = AuditCheckpoint.objects.filter(pk__gt=position.checkpoint_id)
        if head <= position.sequence and (fmt != "json" or not newer.exists()):
            return 0  # nothing new: the sink's end need not be read
        sequence, checkpoint_id = sink_position(sink, position)
        events = list(AuditEvent.objects.filter(sequence__gt=sequence).order_by("sequence")[:limit])
        first = events[0].sequence if events else None
        if first is not None and first != sequence + 1:
            logger.warning(
                "stream gap: events #%d..#%d are not in the trail (pruned before they were "
                "streamed?); going on from #%d",
                sequence + 1,
                first - 1,
                first,
            )
        lines = [event_line(event, writer, fmt=fmt) for event in events]
        last = events[-1].sequence or sequence if events else sequence
        checkpoints: list[AuditCheckpoint] = []
        if fmt == "json":
            # A checkpoint follows the event it signs, never precedes it.
            checkpoints = list(
                AuditCheckpoint.objects.filter(pk__gt=checkpoint_id, sequence__lte=last).order_by(
                    "pk"
                )[:limit]
            )
            lines += [checkpoint_line(record, writer) for record in checkpoints]
        sink.write(lines)
        moved = (last, checkpoints[-1].pk if checkpoints else checkpoint_id)
        if moved != (position.sequence, position.checkpoint_id):
            AuditStreamPosition.objects.filter(name=POSITION).update(
                sequence=moved[0], checkpoint_id=moved[1], updated_at=timezone.now()
            )
    return len(events)


def stream_pending(*, limit: int | None = None, lease: LeaseHolder | None = None) -> int:
    """Write every sealed event not yet streamed; return how many (0 when off or not holder)."""
    sink = configured_sink()
    if sink is None:
        return 0
    limit = limit or settings.AUDIT_SEAL_BATCH
    streamed = 0
    while True:
        count = stream_batch(sink=sink, limit=limit, lease=lease or sealer_lease)
        if not count:
            return streamed
        streamed += count
        if count < limit:
            return streamed


_last_failure: list[str] = []


def stream_round(*, lease: LeaseHolder) -> int:
    """Stream what is pending; a sink that cannot be written is said once, then retried."""
    try:
        streamed = stream_pending(lease=lease)
    except OSError as error:
        text = f"{type(error).__name__}: {error}"
        if _last_failure != [text]:
            _last_failure[:] = [text]
            logger.error(
                "cannot write the audit stream (%s): %s; retrying every round",
                settings.AUDIT_STREAM,
                text,
            )
        return 0
    if _last_failure:
        logger.warning("the audit stream is written again (%s)", settings.AUDIT_STREAM)
        _last_failure.clear()
    return streamed


def stream_lag() -> int:
    """Return how many sealed events the stream has not written yet."""
    head = ChainHead.objects.filter(pk=1).values_list("sequence", flat=True).first() or 0
    done = (
        AuditStreamPosition.objects.filter(name=POSITION).values_list("sequence", flat=True).first()
    )
    return max(0, head - (done or 0))
