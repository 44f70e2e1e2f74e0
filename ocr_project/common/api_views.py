"""API views whose data-only formats (CSV, NDJSON, PDF) still report errors as JSON."""

from rest_framework import renderers
from rest_framework.views import APIView


class JsonErrorsAPIView(APIView):
    """Report an error (400, 401, 403, 404) as JSON when the format asked for carries only data.

    A CSV or NDJSON stream or a PDF has no place for an error message; rendered in it, the
    error would arrive as an empty body or a broken file. ``data_only_renderers`` names
    those formats.
    """

    data_only_renderers: tuple[type[renderers.BaseRenderer], ...] = ()

    def finalize_response(self, request, response, *args, **kwargs):
        if getattr(response, "exception", False) and isinstance(
            getattr(request, "accepted_renderer", None), self.data_only_renderers
        ):
            request.accepted_renderer = renderers.JSONRenderer()
            request.accepted_media_type = request.accepted_renderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)
