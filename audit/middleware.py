"""Give every request an id that links its audit events and its response."""

import re
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from .client import client_context, current_client, current_request

REQUEST_ID_HEADER = "X-Request-ID"
# A caller's id is kept only when it is short and plain, so it can't smuggle log
# lines or markup into the trail; anything else is replaced by a fresh UUID.
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{8,64}")


def incoming_request_id(request: HttpRequest) -> str:
    """Return the caller's X-Request-ID when sane, else a new one."""
    candidate = request.META.get("HTTP_X_REQUEST_ID", "")
    # fullmatch, not match with "$": "$" also matches before a trailing newline.
    if SANE_REQUEST_ID.fullmatch(candidate):
        return candidate
    return uuid.uuid4().hex


class RequestIdMiddleware:
    """Stamp a request id on the request, its audit events and its response."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = incoming_request_id(request)
        # HttpRequest takes attributes; this one is read back with getattr by the services.
        request.request_id = request_id  # type: ignore[attr-defined]
        token = current_client.set(client_context(request))
        request_token = current_request.set(request)
        try:
            response = self.get_response(request)
        finally:
            current_request.reset(request_token)
            current_client.reset(token)
        response[REQUEST_ID_HEADER] = request_id
        return response
