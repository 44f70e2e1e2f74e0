"""Record audit events. The one write path into the trail."""

from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from .chain import GENESIS_HASH, event_hash, normalise_metadata
from .client import ClientContext, client_context, valid_ip
from .events import Outcome, category_for
from .models import AuditEvent, ChainHead
from .sanitize import clean_free_text, clean_text, redact
from .stream import publish_after_commit


def lock_chain_head() -> ChainHead:
    """Return the chain head, locked for the rest of the transaction.

    On PostgreSQL SELECT ... FOR UPDATE on the single head row makes concurrent
    writers take turns. SQLite ignores FOR UPDATE, but its IMMEDIATE transactions
    (settings) already hold the database write lock from BEGIN.
    """
    head = ChainHead.objects.select_for_update().filter(pk=1).first()
    if head is None:
        # First event ever: create the row; a racing creator loses on the primary key.
        head, _ = ChainHead.objects.get_or_create(pk=1, defaults={"hash": GENESIS_HASH})
        head = ChainHead.objects.select_for_update().get(pk=1)
    return head


def record_event(
    *,
    event_type: str,
    outcome: str = Outcome.SUCCESS,
    user: AbstractBaseUser | None = None,
    username: str = "",
    request: HttpRequest | None = None,
    client: ClientContext | None = None,
    resource_type: str = "",
    resource_id: Any = "",
    message: str = "",
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
        "message": clean_free_text(message, max_length=500),
        "metadata": normalise_metadata(redact(metadata or {})),
    }
    with transaction.atomic():
        head = lock_chain_head()
        fields["sequence"] = head.sequence + 1
        fields["prev_hash"] = head.hash
        # Stamped under the lock and never before the previous event, so timestamps do
        # not run backwards along the chain even if the system clock is stepped back.
        now = timezone.now()
        fields["timestamp"] = max(now, head.timestamp) if head.timestamp else now
        fields["hash"] = event_hash(fields)
        event = AuditEvent.objects.create(user=user, **fields)
        head.sequence = event.sequence
        head.hash = event.hash
        head.timestamp = event.timestamp
        head.save(update_fields=["sequence", "hash", "timestamp"])
        publish_after_commit(event)
    return event
