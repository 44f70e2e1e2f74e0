"""Record refused access (access_denied), coalescing repeats so a script cannot flood the trail."""

from django.contrib.auth.models import User
from django.core.cache import cache
from django.http import HttpRequest

from .client import current_request
from .events import Outcome
from .services import record_event

# One event per user and path per window: a script hammering a refused URL costs one
# row a minute, and the first refusal is always on the record.
COALESCE_SECONDS = 60
NOTE_ATTRIBUTE = "audit_refused_resource"


def note_refused_resource(*, resource_type: str, resource_id: str) -> None:
    """Mark the request being served as refused a resource it may not see (a 404 to the client).

    Readers (selectors) must not write; the access middleware records the event once the
    response is known, so a refusal and its response cannot disagree.
    """
    request = current_request.get()
    if request is not None:
        setattr(request, NOTE_ATTRIBUTE, (resource_type, str(resource_id)))


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
    metadata = {"path": path, "method": request.method, "status": status}
    if permission:
        metadata["permission"] = permission
    record_event(
        event_type="access_denied",
        outcome=Outcome.FAILURE,
        user=user,
        request=request,
        resource_type=resource_type,
        resource_id=resource_id,
        message="Access refused",
        metadata=metadata,
    )
    return True
