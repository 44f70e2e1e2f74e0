"""A trail that stops reaching its chain: verify_audit_chain exits 3, the dashboard says so."""

import io
import time
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from audit.lease import CHECKPOINT_SIGNER, SEALER
from audit.management.commands.verify_audit_chain import EXIT_BROKEN, EXIT_STALE
from audit.models import AuditEvent, AuditLease
from audit.sealing.batches import seal_pending
from audit.services import insert_unsealed, record_event
from audit.tests.tamper import TABLE
from audit.transparency.tree_heads import sign_tree_head
from audit.worker_duties import check_once

DASHBOARD = "/admin/dashboard/"


@pytest.fixture(autouse=True)
def background(settings):
    settings.AUDIT_SEALING = "background"


def verify() -> tuple[int, str]:
    """Run verify_audit_chain; return its exit status and what it printed."""
    out = io.StringIO()
    try:
        call_command("verify_audit_chain", stdout=out)
    except CommandError as error:
        return error.returncode, out.getvalue()
    return 0, out.getvalue()


def stale_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("STALE: ")]


def lapse(name: str) -> None:
    """Make the lease `name` look as if its holder stopped a minute ago."""
    past = timezone.now() - timedelta(minutes=1)
    AuditLease.objects.filter(name=name).update(renewed_at=past, expires_at=past)


def event_stamped_ahead(seconds: float) -> AuditEvent:
    """Record an event as a writer whose clock runs `seconds` ahead would."""
    event = AuditEvent(
        event_type="auth_login",
        category="authentication",
        outcome="success",
        username="fast-clock",
        key_id="",
        timestamp=timezone.now() + timedelta(seconds=seconds),
    )
    insert_unsealed(event)
    return event


@pytest.mark.django_db(transaction=True)
def test_a_sealed_trail_with_a_live_sealer_exits_0(user):
    record_event(event_type="auth_login", user=user)
    seal_pending()
    sign_tree_head()  # the worker's checkpoint: the trail is anchored

    status, output = verify()

    assert status == 0
    assert stale_lines(output) == []
    assert "OK: chain intact." in output


@pytest.mark.django_db(transaction=True)
def test_events_left_unsealed_past_the_window_and_a_takeover_exit_3(user, settings):
    settings.AUDIT_SEAL_WINDOW_SECONDS = 0.1
    settings.AUDIT_SEALER_LEASE_SECONDS = 0.2
    record_event(event_type="auth_login", user=user)  # no sealer runs
    time.sleep(0.4)

    status, output = verify()

    assert status == EXIT_STALE
    [line] = stale_lines(output)
    assert "the oldest unsealed event has waited" in line
    assert "no sealer is sealing" in line


@pytest.mark.django_db(transaction=True)
def test_a_sealer_lease_not_renewed_in_its_period_exits_3(user):
    record_event(event_type="auth_login", user=user)
    seal_pending()
    lapse(SEALER)  # the sealer died; nothing waits yet, but the next event will

    status, output = verify()

    assert status == EXIT_STALE
    [line] = stale_lines(output)
    assert "the sealer lease of" in line
    assert "no sealer is running" in line


@pytest.mark.django_db(transaction=True)
def test_a_checkpoint_signer_not_seen_in_its_period_exits_3(user):
    record_event(event_type="auth_login", user=user)
    seal_pending()
    check_once()  # the worker looked for a due checkpoint (and signed one)
    assert verify()[0] == 0
    lapse(CHECKPOINT_SIGNER)  # ...and then stopped looking

    status, output = verify()

    assert status == EXIT_STALE
    [line] = stale_lines(output)
    assert "the checkpoint signer" in line
    assert "manage.py ocr_worker" in line


@pytest.mark.django_db(transaction=True)
def test_an_event_stamped_in_the_future_is_reported_as_such_and_exits_3(user):
    record_event(event_type="auth_login", user=user)
    seal_pending()
    ahead = event_stamped_ahead(120)

    assert seal_pending() == 0  # not sealable until the clock gets there
    status, output = verify()

    assert AuditEvent.objects.get(pk=ahead.pk).sequence is None
    assert status == EXIT_STALE
    assert "1 events not yet sealed, oldest 0.0 s (1 stamped up to 1" in output
    [line] = stale_lines(output)
    assert "1 unsealed event stamped up to 1" in line
    assert "s ahead of" in line
    assert "a writer's clock runs ahead" in line


@pytest.mark.django_db(transaction=True)
def test_tampering_keeps_exit_1_when_the_trail_is_also_stale(user):
    record_event(event_type="auth_login", user=user)
    seal_pending()
    lapse(SEALER)
    # A row written into the table by hand: no writer MAC.
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {TABLE} (timestamp, event_type, category, outcome, username,"  # noqa: S608
            " user_agent, request_id, resource_type, resource_id, message, metadata, key_id)"
            " VALUES (%s, 'auth_login', 'authentication', 'success', 'forged', '', '', '',"
            " '', '', '{}', '')",
            [timezone.now()],
        )

    status, output = verify()

    assert status == EXIT_BROKEN
    assert stale_lines(output)  # still said, one line each
    assert "BROKEN: 1 unsealed event the sealer will not link" in output


@pytest.mark.django_db(transaction=True)
def test_the_dashboard_shows_a_stale_trail_in_red_instead_of_intact(staff_client, user):
    record_event(event_type="auth_login", user=user)
    seal_pending()
    assert 'id="chain-status">Intact' in staff_client.get(DASHBOARD).text
    lapse(SEALER)

    page = staff_client.get(DASHBOARD).text

    assert '<span class="badge failed" id="chain-status" role="alert">Stale</span>' in page
    assert "Intact" not in page
    assert '<ul id="chain-problems" class="error" role="alert">' in page
    assert "The sealer lease of" in page
    assert "no sealer is running (manage.py audit_sealer)." in page
