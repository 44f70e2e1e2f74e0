"""The SIEM stream: each committed audit event as one JSON line on the `audit` logger."""

import json
import logging
from typing import Any

from django.db import transaction

from .chain import canonical_timestamp

logger = logging.getLogger("audit")


def event_document(event) -> dict[str, Any]:
    """Return the event as the API and the stream present it."""
    return {
        "id": event.pk,
        "sequence": event.sequence,
        "timestamp": canonical_timestamp(event.timestamp),
        "event_type": event.event_type,
        "category": event.category,
        "outcome": event.outcome,
        "user_id": event.user_id,
        "username": event.username,
        "ip_address": event.ip_address,
        "user_agent": event.user_agent,
        "request_id": event.request_id,
        "resource_type": event.resource_type,
        "resource_id": event.resource_id,
        "message": event.message,
        "metadata": event.metadata,
        "prev_hash": event.prev_hash,
        "hash": event.hash,
        "key_id": event.key_id,
    }


def publish_after_commit(event) -> None:
    """Log the event once its transaction commits; a rolled-back event never leaks."""
    # ensure_ascii keeps every byte printable: one event is exactly one line.
    line = json.dumps(event_document(event), ensure_ascii=True, sort_keys=True)
    transaction.on_commit(lambda: logger.info(line))
