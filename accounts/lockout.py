"""How django-axes names a login attempt and what it answers a locked-out one."""

# axes.conf is django.conf.settings with the AXES_* defaults filled in.
from axes.conf import settings
from axes.helpers import get_cool_off, get_lockout_message
from django.http import HttpRequest, HttpResponse, JsonResponse

from .login_surface import login_surface


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None, credentials: dict | None
) -> HttpResponse:
    """Return the response for a login refused because its username + IP is locked out.

    django-axes' own response is an HTML-ish text body; an API client must get JSON it
    can parse. Retry-After is the full cool-off, the longest the client may have to wait.
    """
    message = get_lockout_message()
    status = settings.AXES_HTTP_RESPONSE_CODE
    if login_surface(request) == "jwt":
        response: HttpResponse = JsonResponse(
            {"detail": message, "code": "locked_out"}, status=status
        )
    else:
        response = HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")
    cool_off = get_cool_off(request)
    if cool_off:
        response["Retry-After"] = str(int(cool_off.total_seconds()))
    return response


def lockout_username(request: HttpRequest, credentials: dict | None) -> str | None:
    """Return the attempted username as django-axes records it: at most 255 characters.

    Django's login forms hand authenticate() a username of any length; a longer one does
    not fit axes' column, and on PostgreSQL a failed login would become a 500.
    """
    field = settings.AXES_USERNAME_FORM_FIELD
    if credentials:
        username = credentials.get(field)
    else:
        username = getattr(request, "data", request.POST).get(field)
    return None if username is None else str(username)[:255]
