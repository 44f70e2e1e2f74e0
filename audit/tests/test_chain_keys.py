"""Keyed links: the key ring, rotation as an event, and the switch from plain SHA-256."""

from datetime import timedelta

import pytest
from django.core.checks import run_checks
from django.core.management import call_command
from django.utils import timezone

from audit.chain import ChainKeyError, event_hash, key_ring, parse_key_ring
from audit.models import AuditEvent, ChainHead
from audit.services import record_event, switch_to_keyed_chain
from audit.tests.fixtures import sealed
from audit.tests.tamper import append_chain
from audit.verification.verify import verify_chain

K1 = "k1:" + "1" * 40
K2 = "k2:" + "2" * 40


def test_the_newest_key_signs_and_every_key_verifies():
    ring = parse_key_ring(f"{K2}, {K1}")
    assert ring.signing.key_id == "k2"
    assert set(ring.keys) == {"k1", "k2"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "id:secret"),
        ("k1", "id:secret"),
        ("bad id:" + "x" * 40, "id:secret"),
        ("k1:short", "shorter than 32"),
        (f"{K1},{K1}", "appears twice"),
        ("k" * 17 + ":" + "x" * 40, "id:secret"),
    ],
)
def test_a_malformed_ring_is_refused(text, message):
    with pytest.raises(ChainKeyError, match=message):
        parse_key_ring(text)


def test_link_is_the_rfc_2104_hmac():
    import hashlib
    import hmac

    from audit.chain import HASHED_FIELDS, row_payload

    fields = {name: "x" for name in HASHED_FIELDS} | {"sequence": 1, "metadata": {}}
    fields["timestamp"] = "2026-01-01T00:00:00.000000Z"
    key = parse_key_ring(K1).signing
    values = tuple(fields[name] for name in HASHED_FIELDS)
    expected = hmac.new(b"1" * 40, row_payload(values), hashlib.sha256).hexdigest()
    assert event_hash(fields, key) == expected


def test_rotation_is_an_event_linked_under_the_new_key(db, settings):
    settings.AUDIT_CHAIN_KEYS = K1
    sealed([record_event(event_type="auth_login", username="alice")])
    settings.AUDIT_CHAIN_KEYS = f"{K2},{K1}"
    [event] = sealed([record_event(event_type="auth_logout", username="alice")])
    rotation = AuditEvent.objects.get(sequence=event.sequence - 1)
    assert rotation.event_type == "audit_chain_key"
    assert rotation.metadata == {"previous_key_id": "k1", "key_id": "k2"}
    assert (rotation.key_id, event.key_id) == ("k2", "k2")
    assert verify_chain().ok
    assert ChainHead.objects.get(pk=1).key_id == "k2"


def test_dropping_a_key_still_in_use_from_the_ring_is_named(db, settings):
    settings.AUDIT_CHAIN_KEYS = K1
    sealed([record_event(event_type="auth_login", username="alice")])
    settings.AUDIT_CHAIN_KEYS = K2
    sealed([record_event(event_type="auth_logout", username="alice")])
    result = verify_chain()
    assert result.first_bad_sequence == 1
    assert "'k1', which AUDIT_CHAIN_KEYS does not hold" in result.reason


def test_a_plain_chain_carries_over_through_a_switch_event(db):
    # Stamped in the past: an event recorded after a head stamped ahead waits for the
    # clock to get there before the sealer links it.
    append_chain(5, plain=True, start=timezone.now() - timedelta(minutes=10))
    plain = verify_chain()
    assert plain.first_bad_sequence == 5
    assert "newest event, has a plain SHA-256 link" in plain.reason
    switch = switch_to_keyed_chain()
    assert (switch.sequence, switch.event_type) == (6, "audit_chain_key")
    assert switch.metadata["previous_key_id"] == ""
    sealed([record_event(event_type="auth_login", username="alice")])
    result = verify_chain()
    assert result.ok, result.reason
    assert result.rows_checked == 7
    assert switch_to_keyed_chain() is None  # already keyed: nothing more to record


def test_migrate_switches_an_upgraded_trail_to_keyed_links(db):
    append_chain(3, plain=True)
    call_command("migrate", verbosity=0)
    newest = AuditEvent.objects.get(sequence=4)
    assert (newest.event_type, newest.key_id) == ("audit_chain_key", key_ring().signing.key_id)
    assert verify_chain().ok


# db: the system checks include the models', and JSONField's asks the backend what it
# supports (run alone, no earlier test has cached that answer).
def test_a_chain_key_equal_to_secret_key_is_refused_at_start_up(db, settings):
    settings.AUDIT_CHAIN_KEYS = f"{K1},old:{settings.SECRET_KEY}"
    errors = [error.id for error in run_checks()]
    assert "audit.E005" in errors


def test_an_unreadable_ring_is_refused_at_start_up(db, settings):
    settings.AUDIT_CHAIN_KEYS = "k1:short"
    assert "audit.E004" in [error.id for error in run_checks()]


def test_the_configured_ring_passes_the_checks(db):
    ids = [error.id for error in run_checks()]
    assert "audit.E004" not in ids and "audit.E005" not in ids
