"""The tests' drain: the background sealer's own round, run where production's would have run.

Tests seal in the background, as production does (the root conftest.py); the drain must
link what a test recorded whether the test runs in a transaction of its own (rolled
back at the end) or commits for real, on both databases.
"""

import pytest

from audit.lease import SEALER, lease_state
from audit.models import AuditEvent
from audit.sealing.batches import seal_pending
from audit.services import record_event
from audit.verification.verify import verify_chain


def test_the_drain_links_what_the_tests_own_transaction_recorded(db, drain_sealer):
    first = record_event(event_type="auth_login", username="alice")
    second = record_event(event_type="auth_logout", username="alice")
    assert AuditEvent.objects.filter(sequence__isnull=True).count() == 2

    assert drain_sealer() == 2

    linked = AuditEvent.objects.order_by("sequence").values_list("pk", "sequence")
    assert list(linked) == [(first.pk, 1), (second.pk, 2)]
    assert verify_chain().rows_checked == 2
    assert drain_sealer() == 0


@pytest.mark.django_db(transaction=True)
def test_the_drain_links_committed_events_and_gives_the_lease_up(drain_sealer):
    record_event(event_type="auth_login", username="alice")

    assert drain_sealer() == 1

    # Given up, as a sealer that stops cleanly does: the next round takes it at once
    # rather than standing by for a lease period.
    lease = lease_state(SEALER)
    assert lease is not None and lease.holder == ""
    record_event(event_type="auth_logout", username="alice")
    assert seal_pending() == 1
    assert verify_chain().ok


def test_inline_sealing_links_at_once_and_leaves_the_drain_nothing(
    db, inline_sealing, drain_sealer
):
    event = record_event(event_type="auth_login", username="alice")

    assert event.sequence == 1
    assert drain_sealer() == 0
