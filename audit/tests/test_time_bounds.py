"""since/until select exactly the events stamped in the range, via sequence bounds."""

from datetime import UTC, datetime, timedelta

import pytest

from audit.api.filters import AuditEventFilter
from audit.models import AuditEvent
from audit.services import record_event

BASE = datetime(2026, 6, 1, tzinfo=UTC)
# Minutes after BASE; repeated values share a timestamp, as events of one moment do.
OFFSETS = [0, 10, 10, 10, 20, 30, 30, 40]


@pytest.fixture
def stamped(db, monkeypatch, inline_sealing):
    # Inline: the locked design stamps with the application clock set here (background
    # sealing on PostgreSQL stamps with the database's) and links each event at once.
    clock = iter(BASE + timedelta(minutes=minutes) for minutes in OFFSETS)
    monkeypatch.setattr("audit.services.timezone.now", lambda: next(clock))
    return [record_event(event_type="auth_login", username=f"u{i}") for i in range(len(OFFSETS))]


def selected(**params) -> list[int]:
    data = {key: value.isoformat() for key, value in params.items()}
    filterset = AuditEventFilter(data=data, queryset=AuditEvent.objects.all())
    assert filterset.is_valid(), filterset.errors
    return sorted(event.sequence for event in filterset.qs)


def expected(events, *, since=None, until=None) -> list[int]:
    return sorted(
        event.sequence
        for event in events
        if (since is None or event.timestamp >= since)
        and (until is None or event.timestamp < until)
    )


@pytest.mark.parametrize(
    ("since", "until"),
    [
        (10, None),  # starts on a shared timestamp: all three events at +10 included
        (11, None),
        (None, 30),  # ends on a shared timestamp: both events at +30 excluded
        (10, 30),
        (15, 35),
        (41, None),  # after everything
        (None, -5),  # before everything
        (-5, 100),
    ],
)
def test_time_bounds_match_a_plain_timestamp_comparison(stamped, since, until):
    bounds = {}
    if since is not None:
        bounds["since"] = BASE + timedelta(minutes=since)
    if until is not None:
        bounds["until"] = BASE + timedelta(minutes=until)

    assert selected(**bounds) == expected(stamped, **bounds)
