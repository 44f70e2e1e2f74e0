"""Request-scoped audit plumbing: the request id, and refusals of signed-in users."""

import re
import uuid
from collections.abc import Callable
from urllib.parse import urlsplit

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.urls import reverse

from .access import NOTE_ATTRIBUTE, record_access_denied
from .client import client_context, current_client, current_request

REQUEST_ID_HEADER = "X-Request-ID"
# The id a caller (or a proxy in front) sent is its claim, kept beside the server's own
# as metadata.client_request_id, and only when short and plain, so it can't smuggle log
# lines or markup into the trail; anything else is dropped.
SANE_CLIENT_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def new_request_id() -> str:
    """Return a fresh request id: the server's, never one a client chose."""
    return uuid.uuid4().hex


def client_request_id(request: HttpRequest) -> str:
    """Return the X-Request-ID the request arrived with when sane, else "".

    Never the request's id: a failed login sent with an upload's id would otherwise be
    listed under that upload's request. Behind TRUSTED_PROXY_COUNT proxies the header
    may be the proxy's id or the client's passed on, which the server cannot tell
    apart, so it is recorded the same way, as a claim beside the server's id.
    """
    candidate = request.META.get("HTTP_X_REQUEST_ID", "")
    # fullmatch, not match with "$": "$" also matches before a trailing newline.
    if SANE_CLIENT_REQUEST_ID.fullmatch(candidate):
        return candidate
    return ""


class RequestIdMiddleware:
    """Stamp a server-made request id on the request, its audit events and its response."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = new_request_id()
        # HttpRequest takes attributes; these are read back with getattr by the services.
        request.request_id = request_id  # type: ignore[attr-defined]
        request.client_request_id = client_request_id(request)  # type: ignore[attr-defined]
        token = current_client.set(client_context(request))
        request_token = current_request.set(request)
        try:
            response = self.get_response(request)
        finally:
            current_request.reset(request_token)
            current_client.reset(token)
        response[REQUEST_ID_HEADER] = request_id
        return response


def sent_to_admin_login(request: HttpRequest, response: HttpResponse) -> bool:
    """Return whether the response turns a signed-in visitor away to the admin login."""
    login = reverse("admin:login")
    location = urlsplit(response.get("Location", "")).path
    return location == login and request.path != login


class AccessDeniedMiddleware:
    """Record access_denied when a signed-in user is refused a staff surface or a resource.

    Three refusals count: a 403 from a permission check (PermissionDenied raised by a
    view, as Django admin and staff_page do, or HasDjangoPermission), the admin's
    redirect of a non-staff user to its login page, and a 404 that hides someone else's
    resource (noted by the reader).
    Other 403s (CSRF, a foreign token on logout) are recorded by their own events or are
    not access decisions. Anonymous refusals are not recorded: they carry no identity.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return response
        if response.status_code == 403:
            permission = getattr(request, "audit_required_permission", "")
            if permission or getattr(request, "audit_permission_denied", False):
                record_access_denied(request=request, user=user, status=403, permission=permission)
        elif response.status_code == 302 and sent_to_admin_login(request, response):
            # Django admin answers a signed-in non-staff user with its login page.
            record_access_denied(request=request, user=user, status=302)
        elif response.status_code == 404:
            refused = getattr(request, NOTE_ATTRIBUTE, None)
            if refused is not None:
                resource_type, resource_id = refused
                record_access_denied(
                    request=request,
                    user=user,
                    status=404,
                    resource_type=resource_type,
                    resource_id=resource_id,
                )
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> None:
        # A view that raised PermissionDenied (Django admin, staff_page) made an access
        # decision; a CSRF rejection is returned by CsrfViewMiddleware, never raised.
        if isinstance(exception, PermissionDenied):
            # A marker for process_response on this request, which Django's type lacks.
            request.audit_permission_denied = True  # type: ignore[attr-defined]
