"""The bench seeder: the event stream it generates and the chain it writes from it."""

import random
from datetime import UTC, datetime, timedelta

import pytest

from audit.models import AuditEvent, ChainHead
from audit.verification.verify import verify_chain
from bench.seed import STAFF_USERNAME, seed
from bench.seed_events import EventStream, chained_rows, make_ips


def generated_hashes(rows: int) -> list[str]:
    rng = random.Random(5)
    users = [(pk, f"user{pk:04d}") for pk in range(1, 30)]
    stream = EventStream(rng=rng, users=users, staff=(99, STAFF_USERNAME), ips=make_ips(40, rng))
    start = datetime(2026, 1, 1, tzinfo=UTC)
    linked = chained_rows(rows=rows, stream=stream, start=start, span=timedelta(days=1))
    return [fields["hash"] for fields in linked]


def test_the_stream_is_the_same_for_the_same_seed_and_linked_in_order():
    first = generated_hashes(300)

    assert first == generated_hashes(300)
    assert len(set(first)) == 300


@pytest.mark.django_db(transaction=True)
def test_the_seeded_chain_is_whole_and_verifies(settings):
    # As the bench runs: the staff account's own events wait for a sealer, none runs.
    settings.AUDIT_SEALING = "background"

    info = seed(rows=400, users=25, ips=40, days=2)

    sealed = AuditEvent.objects.filter(sequence__isnull=False)
    assert sealed.count() == 400
    head = ChainHead.objects.get(pk=1)
    newest = sealed.order_by("-sequence").first()
    assert (head.sequence, head.hash) == (400, newest.hash)
    assert (info.rows, len(info.user_ids)) == (400, 25)
    assert verify_chain().ok
