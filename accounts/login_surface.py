"""Name the entry point a login or logout came through: session, admin or jwt."""

from django.http import HttpRequest


def login_surface(request: HttpRequest | None) -> str:
    """Return "admin", "jwt" or "session" for the view handling this request."""
    if request is None:
        return "unknown"
    match = getattr(request, "resolver_match", None)
    if match is not None:
        if match.namespace == "admin":
            return "admin"
        if match.url_name and match.url_name.startswith("api-auth"):
            return "jwt"
    return "session"
