"""Read accounts."""

from axes.helpers import get_cool_off
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.utils import timezone

# Lockouts listed for staff; more than this at once is an attack, seen in the audit list.
LOCKED_ROWS = 100


def user_list() -> QuerySet:
    """Return all users, oldest account first."""
    return get_user_model().objects.order_by("id")


def locked_accounts() -> list[dict]:
    """Return the username + address pairs django-axes refuses now, newest lockout first.

    Rows are {"username", "ip_address", "failures", "locked_at", "unlocks_at"}.
    """
    cool_off = get_cool_off()
    attempts = AccessAttempt.objects.filter(
        failures_since_start__gte=settings.AXES_FAILURE_LIMIT
    ).order_by("-attempt_time")
    if cool_off is not None:
        attempts = attempts.filter(attempt_time__gte=timezone.now() - cool_off)
    return [
        {
            "username": attempt.username or "",
            "ip_address": attempt.ip_address or "",
            "failures": attempt.failures_since_start,
            "locked_at": attempt.attempt_time,
            "unlocks_at": attempt.attempt_time + cool_off if cool_off is not None else None,
        }
        for attempt in attempts[:LOCKED_ROWS]
    ]


def attempts_left(*, username: str, ip_address: str | None) -> int | None:
    """Return how many more wrong passwords lock this username + address, None if unknown.

    Read from django-axes' failure count for the pair, which it keeps for every username
    tried, existing or not: the warning says nothing about whether an account exists.
    """
    failures = (
        AccessAttempt.objects.filter(username=username[:255], ip_address=ip_address)
        .values_list("failures_since_start", flat=True)
        .first()
    )
    if failures is None:
        return None
    return max(0, settings.AXES_FAILURE_LIMIT - failures)
