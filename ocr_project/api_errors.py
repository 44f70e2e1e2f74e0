"""DRF's exception handler, with the machine-readable code every API error carries."""

from rest_framework.response import Response
from rest_framework.views import exception_handler

from .error_pages import ERROR_CODES


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    """Answer like DRF, adding "code" beside a lone "detail" (as the README promises)."""
    response = exception_handler(exc, context)
    if response is None or not isinstance(response.data, dict):
        return response
    detail = response.data.get("detail")
    # Field-by-field validation errors keep DRF's shape; only {"detail": "..."} gains a code.
    if set(response.data) == {"detail"} and isinstance(detail, str):
        code = getattr(detail, "code", None)
        response.data["code"] = code or ERROR_CODES.get(response.status_code, "error")
    return response
