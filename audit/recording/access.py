"""Record refused access (access_denied), coalescing repeats so a script cannot flood the trail."""

from django.contrib.auth.models import User
from django.core.cache import cache
from django.http import HttpRequest

from ..events import Outcome
from ..services import record_event
from .client import current_request

# One event per user and path per window: a script hammering a refused URL costs one
# row a minute, and the first refusal is always on the record.
COALESCE_SECONDS = 60
# Paths take free values (/download.<fmt>, /pages/<n>.png, /admin/<anything>), so the
# per-path window alone lets a script write a row per request. Past this many refusals
# of one user in a window, one more row says the rest are not recorded, then nothing.
ACCESS_DENIED_PER_USER_PER_MINUTE = 20
NOTE_ATTRIBUTE = "audit_refused_resource"


def note_refused_resource(*, resource_type: str, resource_id: str) -> None:
    """Mark the request being served as refused a resource it may not see (a 404 to the client).

    Readers (selectors) must not write; the access middleware records the event once the
    response is known, so a refusal and its response cannot disagree.
    """
    request = current_request.get()
    if request is not None:
        setattr(request, NOTE_ATTRIBUTE, (resource_type, str(resource_id)))


def refusals_in_window(user: User) -> int:
    """Count this refusal in the user's window; return how many the window now holds."""
    key = f"access_denied:{user.pk}"
    if cache.add(key, 1, timeout=COALESCE_SECONDS):
        return 1
    try:
        return cache.incr(key)
    except ValueError:  # the window ended between add and incr: this one opens a new one
        cache.add(key, 1, timeout=COALESCE_SECONDS)
        return 1


def record_access_denied(
    *,
    request: HttpRequest,
    user: User,
    status: int,
    resource_type: str = "",
    resource_id: str = "",
    permission: str = "",
) -> bool:
    """Record a signed-in user's refusal unless one for the same user and path was just recorded.

    Return whether an event was written. The marker lives in the shared cache (the
    database cache here), so every worker process coalesces against the same window.
    """
    path = request.path[:200]
    key = f"access_denied:{user.pk}:{path}"
    if not cache.add(key, 1, timeout=COALESCE_SECONDS):
        return False
    recorded = refusals_in_window(user)
    if recorded > ACCESS_DENIED_PER_USER_PER_MINUTE + 1:
        return False
    metadata = {"path": path, "method": request.method, "status": status}
    if recorded == ACCESS_DENIED_PER_USER_PER_MINUTE + 1:
        metadata["further_refusals_suppressed"] = True
    if permission:
        metadata["permission"] = permission
    record_event(
        event_type="access_denied",
        outcome=Outcome.FAILURE,
        user=user,
        resource_type=resource_type,
        resource_id=resource_id,
        message="Access refused",
        metadata=metadata,
    )
    return True
