"""Record audit events. The one write path into the trail."""

from contextlib import nullcontext
from datetime import datetime
from functools import cache
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.db import connection, models, transaction
from django.utils import timezone, translation
from django.utils.functional import Promise

from .chain import normalise_metadata
from .events import CLIENT_REQUEST_ID_KEY, Outcome, category_for
from .models import AuditEvent
from .recording import writer_clock
from .recording.client import ClientContext, current_client, valid_ip
from .recording.sanitize import clean_free_text, clean_text, redact
from .sealing.batches import seal_batch, switch_chain_key
from .sealing.heads import head_timestamp, lock_chain_head
from .sealing.refusals import writer_tag

# Every column of an event row but the primary key, in INSERT order.
_EVENT_FIELDS = [field for field in AuditEvent._meta.concrete_fields if not field.primary_key]
_TIMESTAMP_INDEX = [field.name for field in _EVENT_FIELDS].index("timestamp")
# Text columns hold str values record_event has already cleaned, which every database
# driver takes as they are; the others (time, address, JSON, keys) go through their
# field's conversion for the database. Skipping fifteen conversions per event is a
# measurable share of what auditing adds to a request.
_OUTCOMES = frozenset(Outcome.values)
_PLAIN_TEXT = tuple(type(field) is models.CharField for field in _EVENT_FIELDS)


@cache
def _insert_sql(vendor: str, *, database_clock: bool) -> str:
    """Return the INSERT of one event, written once instead of compiled per event.

    With `database_clock` (PostgreSQL, background sealing) the event is stamped by the
    database: one clock for every host, and never before the inserting transaction
    began, which is what lets the sealer know when every earlier event has committed.
    """
    # Only quoted names from the models are formatted in; every value is a parameter.
    quote = connection.ops.quote_name
    # django-stubs type Field.column as optional; a concrete field always has one.
    columns = ", ".join(quote(field.column) for field in _EVENT_FIELDS)  # type: ignore[arg-type]
    values = ["%s"] * len(_EVENT_FIELDS)
    if database_clock:
        values[_TIMESTAMP_INDEX] = "clock_timestamp()"
    table = quote(AuditEvent._meta.db_table)
    returning = f"{quote('id')}, {quote('timestamp')}"
    return f"INSERT INTO {table} ({columns}) VALUES ({', '.join(values)}) RETURNING {returning}"  # noqa: S608


def insert_unsealed(event: AuditEvent) -> None:
    """Insert the event unsealed (no sequence or links yet): one statement, no shared lock.

    With its writer MAC: the sealer links only rows whose MAC holds, so a row someone
    INSERTs without the chain key, or changes before it is sealed, is never linked.
    """
    database_clock = connection.vendor == "postgresql" and event.timestamp is None
    # The database stamps the row: the MAC's reading is taken on its clock as well, so a
    # host whose own clock is off still writes events the sealer links.
    reading = event.timestamp or (writer_clock.database_now() if database_clock else timezone.now())
    event.writer_mac = writer_tag(event, stamp=reading)
    params = []
    for index, field in enumerate(_EVENT_FIELDS):
        if database_clock and index == _TIMESTAMP_INDEX:
            continue
        if _PLAIN_TEXT[index]:
            params.append(getattr(event, field.attname))
        else:
            params.append(field.get_db_prep_save(field.pre_save(event, add=True), connection))
    with connection.cursor() as cursor:
        cursor.execute(_insert_sql(connection.vendor, database_clock=database_clock), params)
        event.pk, stamp = cursor.fetchone()
    if database_clock:
        event.timestamp = stamp
        writer_clock.observe(reading=reading, stamp=stamp)
    event._state.adding = False
    event._state.db = connection.alias


def sqlite_stamp() -> datetime:
    """Return now, or the newest sealed event's time if the clock has stepped back behind it.

    Called holding SQLite's write lock, so no sealer moves the head meanwhile. The
    sealer never links an event stamped before the head (anyone can INSERT such a
    row); a clock stepped back must not make genuine events look like that.
    """
    now = timezone.now()
    head = head_timestamp()
    return max(now, head) if head is not None else now


def in_english(text: Any) -> str:
    """Return text as a string in English: a lazy translation renders in the trail's language.

    Messages shown to users are translated for the request's language; the trail, its
    hashes and the SIEM stream keep one language whoever caused the event.
    """
    if isinstance(text, Promise):
        with translation.override(settings.LANGUAGE_CODE):
            return str(text)
    return text


def record_event(
    *,
    event_type: str,
    outcome: str = Outcome.SUCCESS,
    user: User | AnonymousUser | None = None,
    username: str = "",
    client: ClientContext | None = None,
    resource_type: str = "",
    resource_id: Any = "",
    message: str | Promise = "",
    metadata: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event to the audit trail and return it.

    Runs inside the caller's transaction when there is one, so an action and its
    event commit together or not at all. The client (address, user agent, request id,
    and the caller's own X-Request-ID as metadata.client_request_id) is the request
    being served, as RequestIdMiddleware noted it; work outside a request
    (the OCR worker, reclaiming stale tasks) names its own with ``client``.
    """
    category = category_for(event_type)
    if outcome not in _OUTCOMES:
        raise ValueError(f"Unknown outcome: {outcome!r}")
    client = client or current_client.get() or ClientContext()
    if user is not None and not user.is_authenticated:
        user = None
    snapshot = username or (user.get_username() if user is not None else "")
    if client.client_request_id:
        # In the metadata, so the hash covers it like every other field a reader sees.
        metadata = {
            **(metadata or {}),
            CLIENT_REQUEST_ID_KEY: clean_text(client.client_request_id, max_length=64),
        }
    fields: dict[str, Any] = {
        "event_type": event_type,
        "category": str(category),
        "outcome": str(outcome),
        "username": clean_free_text(snapshot, max_length=150),
        # Normalised again: a hand-built ClientContext must not store what the hash
        # will not match on read-back, nor an address PostgreSQL would refuse.
        "ip_address": valid_ip(client.ip_address),
        "user_agent": clean_free_text(client.user_agent, max_length=512),
        "request_id": clean_text(client.request_id, max_length=64),
        "resource_type": clean_text(resource_type, max_length=20),
        "resource_id": clean_text(resource_id, max_length=64),
        "message": clean_free_text(in_english(message), max_length=500),
        "metadata": normalise_metadata(redact(metadata or {})),
    }
    event = AuditEvent(user=user, key_id="", **fields)
    if settings.AUDIT_SEALING == "inline":
        # The locked design, kept as a setting for comparison and tiny installs: the
        # event is linked in the writer's own transaction under the chain head lock.
        with transaction.atomic():
            newest = lock_chain_head()[2]
            now = timezone.now()
            # Stamped under the lock and never before the previous event, so timestamps
            # do not run backwards along the chain even if the clock is stepped back.
            event.timestamp = max(now, newest) if newest else now
            insert_unsealed(event)
            seal = seal_batch(ids=[event.pk])
            # seal_batch gives way to another sealer (None) only when not given ids.
            event.sequence, event.hash = seal.links[-1][1], seal.links[-1][2]  # type: ignore[union-attr]
            event.prev_hash, event.key_id = seal.prev_hashes[-1], seal.key_id  # type: ignore[union-attr]
        return event
    # Background sealing: one INSERT in the caller's transaction and nothing shared;
    # a sealer (audit/sealing/) links it once it has committed.
    # SQLite: stamp only while holding the write lock (transactions are IMMEDIATE), as
    # the sealer assumes; a caller's block already holds it, else one is opened. Stamped
    # first and queued on the lock after, the event could commit behind later events
    # already sealed, out of time order. PostgreSQL stamps in the INSERT itself.
    # Otherwise no savepoint: a single statement needs none (it commits by itself outside
    # a transaction, and a failure inside one fails the caller's block all the same), and
    # SAVEPOINT/RELEASE would double the round trips of every audited request.
    sqlite = connection.vendor != "postgresql"
    with transaction.atomic() if sqlite and not connection.in_atomic_block else nullcontext():
        if sqlite:
            event.timestamp = sqlite_stamp()
        insert_unsealed(event)
    # The stream line is written once the sealer linked it (audit/siem/streamer.py).
    return event


def switch_to_keyed_chain() -> AuditEvent | None:
    """Link the current chain key into a non-empty chain whose head uses another; idempotent.

    Run after migrations, so an upgraded trail becomes keyed at once rather than at its
    next event: verification then treats a chain ending in a plain link as rewritten.
    """
    return switch_chain_key()
