"""record_event: the one write path into the trail."""

import json

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import transaction

from audit.chain import GENESIS_HASH, event_hash, key_ring
from audit.models import AppendOnlyError, AuditEvent
from audit.recording.client import ClientContext
from audit.recording.sanitize import REDACTED
from audit.services import record_event
from audit.tests.fixtures import drain_sealer, event_fields

CLIENT = ClientContext(ip_address="198.51.100.4", user_agent="agent/1", request_id="req-0001")


@pytest.fixture(autouse=True, params=["background", "inline"])
def sealing(request, settings) -> str:
    """Run each test with both ways of sealing: the one write path must hold in both."""
    settings.AUDIT_SEALING = request.param
    return request.param


def reread(event: AuditEvent) -> AuditEvent:
    """Return the event as stored once sealed (inline sealing already linked it)."""
    drain_sealer()
    return AuditEvent.objects.get(pk=event.pk)


def test_the_returned_event_is_linked_inline_and_unsealed_in_the_background(db, sealing):
    event = record_event(event_type="auth_login", username="a", client=CLIENT)
    stored = AuditEvent.objects.get(pk=event.pk)
    if sealing == "inline":
        # Linked in the writer's own transaction: what it returns carries its link.
        assert (event.sequence, event.prev_hash) == (1, GENESIS_HASH)
        assert (stored.sequence, stored.hash) == (event.sequence, event.hash)
    else:
        # One INSERT: the sealer links it later (audit/tests/test_sealer.py).
        assert (event.sequence, event.prev_hash, event.hash) == (None, None, None)
        assert (stored.sequence, stored.prev_hash, stored.hash) == (None, None, None)
        assert drain_sealer() == 1
        assert reread(event).prev_hash == GENESIS_HASH


def test_an_event_stores_every_field(user):
    event = record_event(
        event_type="task_create",
        user=user,
        client=CLIENT,
        resource_type="task",
        resource_id=42,
        message="Task created",
        metadata={"pages": 3, "engine": "tesseract"},
    )
    assert event_fields(reread(event)) == {
        "event_type": "task_create",
        "category": "task",
        "outcome": "success",
        "user_id": user.pk,
        "username": "alice",
        "ip_address": "198.51.100.4",
        "user_agent": "agent/1",
        "request_id": "req-0001",
        "resource_type": "task",
        "resource_id": "42",
        "message": "Task created",
        "metadata": {"pages": 3, "engine": "tesseract"},
    }


def test_events_are_chained_in_sequence(db):
    first = record_event(event_type="auth_login", username="a", client=CLIENT)
    second = record_event(event_type="auth_logout", username="a", client=CLIENT)
    first, second = reread(first), reread(second)
    assert second.sequence == first.sequence + 1
    assert second.prev_hash == first.hash
    assert second.timestamp >= first.timestamp
    for event in (first, second):
        fields = {field.name: getattr(event, field.name) for field in AuditEvent._meta.fields}
        # An HMAC under the configured chain key, not a hash anyone could recompute.
        assert event.key_id == key_ring().signing.key_id
        assert event_hash(fields, key_ring().signing) == event.hash
        assert event_hash(fields) != event.hash


def test_the_first_event_links_to_the_genesis_hash(db):
    assert reread(record_event(event_type="auth_login", client=CLIENT)).prev_hash == GENESIS_HASH


def test_an_explicit_username_wins_and_anonymous_users_are_not_linked(db):
    event = record_event(
        event_type="auth_login", outcome="failure", user=AnonymousUser(), username="mallory"
    )
    stored = reread(event)
    assert (stored.user_id, stored.username, stored.outcome) == (None, "mallory", "failure")


def test_the_username_snapshot_outlives_the_user(user):
    event = record_event(event_type="auth_login", user=user, client=CLIENT)
    user.delete()
    stored = reread(event)
    assert (stored.user_id, stored.username) == (None, "alice")


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"event_type": "auth_hack"}, "Unknown audit event type"),
        ({"event_type": "auth_login", "outcome": "maybe"}, "Unknown outcome"),
    ],
)
def test_unknown_vocabulary_is_refused_and_nothing_is_stored(db, kwargs, error):
    with pytest.raises(ValueError, match=error):
        record_event(**kwargs)
    assert not AuditEvent.objects.exists()


def test_untrusted_text_is_escaped_and_truncated(db):
    event = record_event(
        event_type="auth_login",
        outcome="failure",
        username="mallory\n2026-01-01 INFO forged line\x1b[2J\u2028\u202e",
        client=ClientContext(request_id="r" * 100),
        resource_id="x" * 100,
        message="m" * 1000,
    )
    stored = reread(event)
    assert stored.username == ("mallory\\u000a2026-01-01 INFO forged line\\u001b[2J\\u2028\\u202e")
    assert len(stored.request_id) == 64 and len(stored.resource_id) == 64
    assert len(stored.message) == 500 and stored.message.endswith("…")


def test_credentials_in_metadata_are_redacted(db):
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlc2lnbmF0dXJl"
    event = record_event(
        event_type="auth_login",
        client=CLIENT,
        metadata={
            "password": "hunter2",
            "new_password1": "hunter3",
            "refresh_token": jwt,
            "HTTP_AUTHORIZATION": f"Bearer {jwt}",
            "nested": {"api_key": "k-123", "note": f"pasted {jwt} here"},
            "tokens_revoked": 3,
            "sessions_ended": 2,
        },
    )
    metadata = reread(event).metadata
    assert metadata == {
        "password": REDACTED,
        "new_password1": REDACTED,
        "refresh_token": REDACTED,
        "HTTP_AUTHORIZATION": REDACTED,
        "nested": {"api_key": REDACTED, "note": f"pasted {REDACTED} here"},
        "tokens_revoked": 3,
        "sessions_ended": 2,
    }
    text = json.dumps(metadata)
    assert "hunter" not in text and "k-123" not in text and jwt not in text


def test_an_event_rolls_back_with_its_action(db):
    kept = reread(record_event(event_type="auth_login", client=CLIENT))
    with pytest.raises(RuntimeError), transaction.atomic():
        record_event(event_type="task_create", client=CLIENT)
        raise RuntimeError("the action failed")
    assert list(AuditEvent.objects.values_list("event_type", flat=True)) == ["auth_login"]
    # The chain continues from the last committed event, without a gap.
    after = reread(record_event(event_type="auth_logout", client=CLIENT))
    assert (after.sequence, after.prev_hash) == (kept.sequence + 1, kept.hash)


def test_recorded_events_cannot_be_changed_or_deleted(db):
    event = record_event(event_type="auth_login", username="alice", client=CLIENT)
    event.username = "mallory"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).update(username="mallory")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().delete()
    assert reread(event).username == "alice"
