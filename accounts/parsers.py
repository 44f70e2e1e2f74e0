"""Parse API request bodies so that a hostile one costs a 400, never a 500."""

from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, answering deeply nested documents with a 400.

    DRF reads a JSON body through request.body, so DATA_UPLOAD_MAX_MEMORY_SIZE already
    bounds it (Django answers 400 past it).
    """

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            # json gives up on deep nesting ("[" x 100,000) with RecursionError, which
            # is not the ValueError DRF turns into a 400.
            raise ParseError("JSON parse error - nested too deeply.") from None
