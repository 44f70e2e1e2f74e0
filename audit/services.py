"""Record audit events. The one write path into the trail."""

from datetime import datetime
from functools import cache
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.db import connection, transaction
from django.http import HttpRequest
from django.utils import timezone, translation
from django.utils.functional import Promise

from .chain import GENESIS_HASH, event_hash, normalise_metadata
from .client import ClientContext, client_context, valid_ip
from .events import Outcome, category_for
from .models import AuditEvent, ChainHead
from .sanitize import clean_free_text, clean_text, redact
from .stream import publish_after_commit


def lock_chain_head() -> tuple[int, str, datetime | None]:
    """Return the chain head's (sequence, hash, timestamp), locked for the transaction.

    On PostgreSQL SELECT ... FOR UPDATE on the single head row makes concurrent
    writers take turns. SQLite ignores FOR UPDATE, but its IMMEDIATE transactions
    (settings) already hold the database write lock from BEGIN.
    """
    head = ChainHead.objects.select_for_update().filter(pk=1)
    row = head.values_list("sequence", "hash", "timestamp").first()
    if row is None:
        # First event ever: create the row; a racing creator loses on the primary key.
        ChainHead.objects.get_or_create(pk=1, defaults={"hash": GENESIS_HASH})
        row = head.values_list("sequence", "hash", "timestamp").get()
    return row


# Every column of an event row but the primary key, in INSERT order.
_EVENT_FIELDS = [field for field in AuditEvent._meta.concrete_fields if not field.primary_key]
_HEAD_FIELDS = [
    field
    for field in ChainHead._meta.concrete_fields
    if field.name in ("sequence", "hash", "timestamp")
]


@cache
def _append_sql(vendor: str) -> tuple[str, str]:
    """Return the SQL that moves the head and the SQL that inserts the event.

    Written once instead of compiled by the ORM for every event: this runs while the
    chain head is locked, so its cost is paid by every writer waiting behind it. On
    PostgreSQL both go in one statement (a data-modifying WITH), one round trip less.
    """
    # Only quoted names from the models are formatted in; every value is a parameter.
    quote = connection.ops.quote_name
    # django-stubs type Field.column as optional; a concrete field always has one.
    head = ", ".join(f"{quote(field.column)} = %s" for field in _HEAD_FIELDS)  # type: ignore[arg-type]
    move_head = f"UPDATE {quote(ChainHead._meta.db_table)} SET {head} WHERE {quote('id')} = 1"  # noqa: S608
    columns = ", ".join(quote(field.column) for field in _EVENT_FIELDS)  # type: ignore[arg-type]
    values = ", ".join(["%s"] * len(_EVENT_FIELDS))
    table = quote(AuditEvent._meta.db_table)
    insert = f"INSERT INTO {table} ({columns}) VALUES ({values}) RETURNING {quote('id')}"  # noqa: S608
    if vendor == "postgresql":
        return "", f"WITH moved_head AS ({move_head}) {insert}"
    return move_head, insert


def append(event: AuditEvent) -> None:
    """Insert the event and make it the chain head; call with the head locked."""
    move_head, insert = _append_sql(connection.vendor)
    # The head takes the event's sequence, hash and timestamp.
    head_params = [
        field.get_db_prep_save(getattr(event, field.attname), connection) for field in _HEAD_FIELDS
    ]
    event_params = [
        field.get_db_prep_save(field.pre_save(event, add=True), connection)
        for field in _EVENT_FIELDS
    ]
    with connection.cursor() as cursor:
        if move_head:
            cursor.execute(move_head, head_params)
            cursor.execute(insert, event_params)
        else:
            cursor.execute(insert, head_params + event_params)
        event.pk = cursor.fetchone()[0]
    event._state.adding = False
    event._state.db = connection.alias


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
    request: HttpRequest | None = None,
    client: ClientContext | None = None,
    resource_type: str = "",
    resource_id: Any = "",
    message: str | Promise = "",
    metadata: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event to the audit trail and return it.

    Runs inside the caller's transaction when there is one, so an action and its
    event commit together or not at all. Client details come from ``client``, else
    from ``request``, else from the request being served.
    """
    category = category_for(event_type)
    if outcome not in Outcome.values:
        raise ValueError(f"Unknown outcome: {outcome!r}")
    client = client or client_context(request)
    if user is not None and not user.is_authenticated:
        user = None
    snapshot = username or (user.get_username() if user is not None else "")
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
    with transaction.atomic():
        head_sequence, head_hash, head_timestamp = lock_chain_head()
        fields["sequence"] = head_sequence + 1
        fields["prev_hash"] = head_hash
        # Stamped under the lock and never before the previous event, so timestamps do
        # not run backwards along the chain even if the system clock is stepped back.
        now = timezone.now()
        fields["timestamp"] = max(now, head_timestamp) if head_timestamp else now
        fields["hash"] = event_hash(fields)
        event = AuditEvent(user=user, **fields)
        append(event)
        publish_after_commit(event)
    return event
