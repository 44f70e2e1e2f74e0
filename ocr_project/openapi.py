"""The OpenAPI contract's error answers: every operation lists the errors it can give.

drf-spectacular documents the success an operation declares. The errors follow from how
the view is wired, the same way for every view: authentication (401), a permission
beyond "logged in" or a session's CSRF check (403), a path parameter or a page (404),
a body (400 when invalid, 413 when too large), a throttle or lockout (429). Their JSON
bodies are two components appended to the schema (SPECTACULAR_SETTINGS).
"""

from drf_spectacular.openapi import AutoSchema
from rest_framework.authentication import SessionAuthentication
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import AllowAny, IsAuthenticated

from .openapi_errors import ERROR_DESCRIPTIONS, ERROR_REF, VALIDATION_ERROR_REF

UNSAFE_METHODS = ("POST", "PUT", "PATCH", "DELETE")

# What every throttled answer carries (ocr_project.common.rate_limits): on a success and
# on the 429, whose Retry-After says the same wait as RateLimit's t.
RATE_LIMIT_HEADERS = {
    "RateLimit-Policy": {
        "description": "The throttle's policy (draft-ietf-httpapi-ratelimit-headers-10): "
        "its name, quota q (requests) and window w (seconds).",
        "required": True,
        "schema": {"type": "string", "example": '"login";q=20;w=60'},
    },
    "RateLimit": {
        "description": "What is left: r requests in the window, and t seconds until the "
        "oldest request counted leaves it (the window slides).",
        "required": True,
        "schema": {"type": "string", "example": '"login";r=19;t=60'},
    },
}
RETRY_AFTER_HEADER = {
    "Retry-After": {
        "description": "Seconds to wait before the next request can succeed.",
        "required": True,
        "schema": {"type": "string", "pattern": "^[0-9]+$", "example": "30"},
    }
}
BODY_METHODS = ("POST", "PUT", "PATCH")


class ErrorDocumentingAutoSchema(AutoSchema):
    """An AutoSchema that adds each error response an operation can give, with its body."""

    def _get_paginator(self):
        # Only a GET lists: an upload answering the tasks it created is not a page of them.
        return super()._get_paginator() if self.method.upper() == "GET" else None

    def get_filter_backends(self):
        # The list's filters are query parameters of its GET, not of the POST beside it.
        return super().get_filter_backends() if self.method.upper() == "GET" else []

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        for response in responses.values():
            self.describe_streams(response.get("content") or {})
        declared = [code for code in responses if code.startswith(("4", "5"))]
        text_results = any(
            "text/plain" in (response.get("content") or {})
            for code, response in responses.items()
            if code.startswith("2")
        )
        for code in sorted({*self.error_codes(), *declared}):
            existing = responses.get(code)
            if existing is None or not existing.get("content"):
                schema = VALIDATION_ERROR_REF if code == "400" else ERROR_REF
                description = (existing or {}).get("description") or ERROR_DESCRIPTIONS.get(
                    code, "Error."
                )
                content = {"application/json": {"schema": schema}}
                if text_results and code != "400":
                    # A client that asked for text gets its error as text too.
                    content["text/plain"] = {"schema": {"type": "string"}}
                responses[code] = {"description": description, "content": content}
        if self.is_throttled():
            for code, response in responses.items():
                if code.startswith("2") or code == "429":
                    response.setdefault("headers", {}).update(RATE_LIMIT_HEADERS)
                if code == "429":
                    response["headers"].update(RETRY_AFTER_HEADER)
        return dict(sorted(responses.items()))

    def is_throttled(self) -> bool:
        """Whether a throttle counts this operation's requests.

        A DRF throttle of the view, or one a service applies (the upload's, which the
        upload page shares): such a view names the methods in ``throttled_methods``.
        """
        view = self.view
        return bool(view.get_throttles()) or self.method.upper() in getattr(
            view, "throttled_methods", ()
        )

    def describe_streams(self, content: dict) -> None:
        """Describe CSV and NDJSON exports as streams of single events, not as JSON pages."""
        if "text/csv" in content:
            content["text/csv"] = {
                "schema": {
                    "type": "string",
                    "description": (
                        "A header row naming the fields, then one row per event, unpaginated."
                    ),
                }
            }
        if "application/x-ndjson" in content:
            # An export view always names its serializer.
            item = self.resolve_serializer(self.get_response_serializers(), "response")  # type: ignore[arg-type]
            content["application/x-ndjson"] = {
                "schema": {
                    "allOf": [item.ref],
                    "description": "One JSON object per line, one line per event, unpaginated.",
                }
            }

    def error_codes(self) -> list[str]:
        """Return the error statuses this operation can answer, from the view's wiring."""
        view, method = self.view, self.method.upper()
        permissions = [type(permission) for permission in view.get_permissions()]
        authenticators = [type(auth) for auth in view.get_authenticators()]
        needs_login = any(permission is not AllowAny for permission in permissions)
        codes = set()
        if needs_login:
            codes.add("401")
            beyond_login = any(p not in (AllowAny, IsAuthenticated) for p in permissions)
            csrf = method in UNSAFE_METHODS and SessionAuthentication in authenticators
            if beyond_login or csrf:
                codes.add("403")
        paginator = self._get_paginator()
        # A page number past the end is a 404 (DRF's NotFound); a bad cursor here is a 400.
        paged = isinstance(paginator, PageNumberPagination) and self._is_list_view()
        if "{" in self.path or (method == "GET" and paged):
            codes.add("404")
        if method in BODY_METHODS:
            # RequestBodyLimitMiddleware refuses any body over its limit before parsing.
            codes.update(("400", "413"))
            if self.get_request_serializer() is not None:
                # A body in another media type than the one declared (DRF's parsers).
                codes.add("415")
        if method == "GET" and getattr(view, "filterset_class", None):
            codes.add("400")
        if method == "GET" and getattr(paginator, "page_size_query_param", None):
            # BoundedPageSize refuses a page size out of its bounds.
            codes.add("400")
        if self.is_throttled():
            codes.add("429")
        return sorted(codes)
