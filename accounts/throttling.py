"""Throttles sized to what they guard.

Password logins are limited per client address, one bucket for the login form, the
admin login and the API, so spraying passwords over many usernames slows down wherever
it is tried (django-axes still locks a username + address after repeated failures).
Refresh and logout cannot guess anything: they get their own, per-family and per-user
buckets, so many clients behind one address (an office NAT, an integration server) do
not starve each other.
"""

import math
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from rest_framework_simplejwt.exceptions import TokenBackendError
from rest_framework_simplejwt.state import token_backend

from audit.recording.client import client_ip
from ocr_project.common.rate_limits import ReportingRateThrottle

from .tokens import FAMILY_CLAIM


class LoginRateThrottle(ReportingRateThrottle):
    """Password logins per client address (rate: AUTH_THROTTLE_RATE)."""

    scope = "login"

    def get_cache_key(self, request, view) -> str:
        # The same helper as the audit trail: a forged X-Forwarded-For cannot buy an
        # attacker a fresh bucket.
        return self.cache_format % {"scope": self.scope, "ident": client_ip(request) or "unknown"}


def verified_family(raw: object) -> str:
    """Return the family of a genuinely signed refresh token, or "" for anything else."""
    if not isinstance(raw, str) or not raw:
        return ""
    try:
        # simplejwt annotates the encoded token as a Token; it takes the string.
        payload = token_backend.decode(raw, verify=True)  # type: ignore[arg-type]
    except TokenBackendError:
        return ""
    return str(payload.get(FAMILY_CLAIM) or payload.get("jti") or "")[:64]


class RefreshRateThrottle(ReportingRateThrottle):
    """Refreshes per token family (rate: REFRESH_THROTTLE_RATE).

    The key is read from a token whose signature checks out, so nobody can spend
    another client's allowance; unsigned garbage shares one bucket per address.
    """

    scope = "refresh"

    def get_cache_key(self, request, view) -> str:
        data = request.data
        # A JSON array or string is refused by the view (400); here it simply has no token.
        family = verified_family(data.get("refresh") if hasattr(data, "get") else None)
        ident = f"family:{family}" if family else f"address:{client_ip(request) or 'unknown'}"
        return self.cache_format % {"scope": self.scope, "ident": ident}


class LogoutRateThrottle(ReportingRateThrottle):
    """Logouts per signed-in user (rate: LOGOUT_THROTTLE_RATE)."""

    scope = "logout"

    def get_cache_key(self, request, view) -> str:
        if request.user and request.user.is_authenticated:
            ident = f"user:{request.user.pk}"
        else:
            ident = f"address:{client_ip(request) or 'unknown'}"
        return self.cache_format % {"scope": self.scope, "ident": ident}


class PasswordLoginThrottleMiddleware:
    """Apply the API's login throttle to the login form and the admin login too.

    Only POSTs (attempts) count; showing the form is free. A throttled attempt reaches
    no authentication backend, so it is neither audited nor counted by django-axes.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method == "POST" and request.path in (
            reverse("accounts:login"),
            reverse("admin:login"),
        ):
            throttle = LoginRateThrottle()
            # Before any view, so no DRF Request: the throttle reads only META and POST.
            if not throttle.allow_request(request, None):  # type: ignore[arg-type]
                wait = math.ceil(throttle.wait() or 1)
                response = HttpResponse(
                    f"Too many login attempts from your address. Try again in {wait} seconds.",
                    status=429,
                    content_type="text/plain; charset=utf-8",
                )
                response["Retry-After"] = str(wait)
                return response
        return self.get_response(request)
