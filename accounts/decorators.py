"""View decorators for who may call a view: the parts Django's auth decorators do not cover."""

from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.shortcuts import resolve_url

# The ?reason= a login URL carries when the visitor's session ended under them.
SESSION_ENDED = "session_ended"


def login_url_after_session_end(next_url: str) -> str:
    """Return the login page's URL that says the session ended, then goes on to `next_url`."""
    query = QueryDict(mutable=True)
    query["next"] = next_url
    query["reason"] = SESSION_ENDED
    return f"{resolve_url(settings.LOGIN_URL)}?{query.urlencode(safe='/')}"


def login_required_for_polling(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Answer a request without a signed-in user with 401 JSON instead of a login redirect.

    For URLs only scripts fetch (progress polls): fetch() follows a redirect to the login
    page and gets a 200 page of HTML, which a poller cannot tell from an answer, so a
    session ended elsewhere ("log out everywhere") went unnoticed and progress froze.
    """

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.user.is_authenticated:
            return view(request, *args, **kwargs)
        response = JsonResponse(
            {"detail": "Your session has ended.", "code": SESSION_ENDED}, status=401
        )
        # RFC 9110 requires a challenge on a 401: "Session" names the login form's cookie,
        # not a scheme a client could answer with a header.
        response["WWW-Authenticate"] = 'Session realm="pages"'
        response["Cache-Control"] = "no-store"
        return response

    return wrapper
