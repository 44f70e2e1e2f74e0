"""View decorators for who may call a view: the parts Django's auth decorators do not cover."""

from collections.abc import Callable
from functools import wraps
from typing import cast
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse, QueryDict
from django.shortcuts import redirect, resolve_url
from django.utils.http import url_has_allowed_host_and_scheme

# The ?reason= a login URL carries when the visitor's session ended under them, and when
# what they sent (a form's click) was not done because of it.
SESSION_ENDED = "session_ended"
FORM_NOT_SENT = "form_not_sent"


def login_url_after_session_end(next_url: str, *, reason: str = SESSION_ENDED) -> str:
    """Return the login page's URL that says the session ended, then goes on to `next_url`."""
    query = QueryDict(mutable=True)
    query["next"] = next_url
    query["reason"] = reason
    return f"{resolve_url(settings.LOGIN_URL)}?{query.urlencode(safe='/')}"


def page_the_form_was_on(request: HttpRequest) -> str:
    """Return the path of the page a form was sent from, or the task list when unknown.

    From the Referer, which the site's same-origin policy sends on its own forms; one from
    another host is ignored, so the login page never sends anyone off the site.
    """
    referer = request.headers.get("Referer", "")
    if referer and url_has_allowed_host_and_scheme(
        referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        parts = urlsplit(referer)
        return f"{parts.path}?{parts.query}" if parts.query else parts.path or "/"
    return resolve_url(settings.LOGIN_REDIRECT_URL)


def login_required_for_forms[View: Callable[..., HttpResponseBase]](view: View) -> View:
    """Like login_required; a form sent without a signed-in user goes back to its page.

    A POST from a tab whose session ended elsewhere (log out everywhere, expiry) was sent
    to log in with next= the form's own URL, which answers only POST: signing in again
    ended on a 405 page, and nothing said the click had done nothing. Now the login page
    says so and leads back to the page the form was on.
    """

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponseBase:
        if request.user.is_authenticated:
            return view(request, *args, **kwargs)
        if request.method in ("GET", "HEAD"):
            return redirect_to_login(request.get_full_path())
        return redirect(
            login_url_after_session_end(page_the_form_was_on(request), reason=FORM_NOT_SENT)
        )

    return cast(View, wrapper)


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
