"""Error answers for the whole site: styled pages for people, JSON under /api/.

URLconf wiring (handler403/404/500) and one middleware; no app owns "page not found".
"""

from collections.abc import Callable
from datetime import timedelta

from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import Resolver404, resolve
from django.utils import timezone
from django.utils.http import parse_http_date_safe
from django.utils.timesince import timeuntil
from django.utils.translation import ngettext

API_PREFIX = "/api/"
# The machine-readable code of each error status, as DRF names them where it has one.
ERROR_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "request_too_large",
    415: "unsupported_media_type",
    429: "throttled",
    500: "server_error",
}


def is_api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


def retry_after_seconds(response: HttpResponse) -> int | None:
    """Return the wait a Retry-After header asks for, in seconds (delay or HTTP date)."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    if value.isdigit():
        return int(value)
    moment = parse_http_date_safe(value)
    if moment is None:
        return None
    return max(0, int(moment - timezone.now().timestamp()))


def wait_in_words(seconds: int) -> str:
    """Return a wait as people say it, in the active language ("15 minutes")."""
    if seconds < 60:
        return ngettext("%(count)d second", "%(count)d seconds", seconds) % {"count": seconds}
    # Rounded up to the minute: "try again in 14 minutes" must not be too early.
    minutes = -(-seconds // 60)
    now = timezone.now()
    return timeuntil(now + timedelta(minutes=minutes), now)


def api_error(status: int, detail: str) -> JsonResponse:
    """Return an API error in DRF's shape: {"detail": ..., "code": ...}."""
    return JsonResponse({"detail": detail, "code": ERROR_CODES.get(status, "error")}, status=status)


def slash_hint(request: HttpRequest) -> str:
    """Return ' Did you mean /x?' when the path differs from a real one by a final slash."""
    path = request.path
    other = path[:-1] if path.endswith("/") else f"{path}/"
    try:
        resolve(other)
    except Resolver404:
        return ""
    return f" Did you mean {other}?"


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Answer 404: JSON under /api/ (with a hint for a slash mistake), a page elsewhere."""
    if is_api(request):
        return api_error(404, f"Not found.{slash_hint(request)}")
    return render(request, "404.html", {"path": request.path}, status=404)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Answer 403: JSON under /api/, a page elsewhere."""
    if is_api(request):
        return api_error(403, "You do not have permission to perform this action.")
    return render(request, "403.html", status=403)


def server_error(request: HttpRequest) -> HttpResponse:
    """Answer 500 without touching the database: it may be the thing that failed."""
    if is_api(request):
        return api_error(500, "Server error. The failure has been logged.")
    # No context processors: the request's user and session may be what is broken.
    context = {"request": request, "user": AnonymousUser()}
    return HttpResponse(render_to_string("500.html", context), status=500)


def too_many_requests(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    """Return the styled 429 page for a refused request, keeping its Retry-After."""
    seconds = retry_after_seconds(response)
    context = {
        "wait": wait_in_words(seconds) if seconds is not None else None,
        "retry_after": seconds,
        # The moment too, not only the wait: a page left open still says when.
        "until": timezone.now() + timedelta(seconds=seconds) if seconds is not None else None,
    }
    page = render(request, "429.html", context, status=429)
    if "Retry-After" in response.headers:
        page["Retry-After"] = response["Retry-After"]
    return page


def is_html(response: HttpResponse) -> bool:
    return response.headers.get("Content-Type", "").startswith("text/html")


class ErrorPageMiddleware:
    """Make Django's error answers under /api/ JSON, and every 429 elsewhere the styled page.

    Errors come from many places that know nothing of the other: Django's 405 and CSRF
    refusal, the lockout of django-axes, throttles. Rewriting the finished response here
    catches them all. Placed after LocaleMiddleware (pages in the visitor's language)
    and AuthenticationMiddleware (the page's top bar knows who is logged in).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        status = response.status_code
        if status < 400 or getattr(response, "streaming", False):
            return response
        if is_api(request):
            # Django's own answers (HTML pages, empty 405s) become JSON; a body a DRF
            # renderer chose (JSON, or plain text for a client that asked for text) stays.
            if is_html(response) or not response.content:
                return self.as_json(request, response)
            return response
        if status == 429 and not is_html(response):
            return too_many_requests(request, response)
        if status == 405 and not response.content:
            # Django's require_POST answers a GET with an empty body: a blank page.
            page = render(request, "405.html", status=405)
            page["Allow"] = response["Allow"]
            return page
        return response

    def as_json(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        """Return the error as JSON, with the headers that tell a client what to do."""
        # English, as every API message: integrators match on it.
        detail = response.reason_phrase or "Error"
        replacement = api_error(response.status_code, f"{detail}.")
        for header in ("Retry-After", "Allow", "WWW-Authenticate", "X-Request-ID"):
            if header in response.headers:
                replacement[header] = response[header]
        return replacement


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """Answer a refused form (CSRF): the 403 page, saying to reload and try again."""
    if is_api(request):
        return api_error(403, f"CSRF verification failed: {reason}")
    return render(request, "403.html", {"csrf_failed": True}, status=403)
