"""Page sizes the API's lists accept: a bad one is a 400 naming `page_size`, never a guess."""

from typing import Any

from rest_framework.exceptions import ValidationError


class BoundedPageSize:
    """Read ``?page_size=`` strictly, and declare its bounds in the OpenAPI schema.

    DRF's paginators turn a page size they cannot use (``abc``, ``0``, ``-1``) into the
    default and one above the maximum into the maximum, silently: a client asking for
    100,000 rows gets 1,000 and may take them for all. Mixed in before a DRF paginator.
    """

    page_size: int
    page_size_query_param: str | None = "page_size"
    max_page_size: int

    def get_page_size(self, request) -> int:
        name = self.page_size_query_param or "page_size"
        raw = request.query_params.get(name)
        if raw is None:
            return self.page_size
        # (Length first: int() refuses more than 4,300 digits with a ValueError.)
        if not (raw.isascii() and raw.isdigit() and len(raw) <= 7) or not (
            1 <= int(raw) <= self.max_page_size
        ):
            raise ValidationError({name: [f"A whole number from 1 to {self.max_page_size}."]})
        return int(raw)

    def get_paginated_response(self, data):
        """The page, with its neighbours also in an RFC 8288 ``Link`` header.

        Clients that follow pages by header (GitHub- and Okta-style pollers, curl
        scripts) need not parse the body; the links are the body's ``next`` and
        ``previous``, absolute.
        """
        response = super().get_paginated_response(data)
        links = [
            f'<{url}>; rel="{rel}"'
            for rel, url in (
                ("next", self.get_next_link()),
                ("prev", self.get_previous_link()),
            )
            if url
        ]
        if links:
            response["Link"] = ", ".join(links)
        return response

    def get_schema_operation_parameters(self, view) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)  # type: ignore[misc]
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": self.max_page_size,
                    "default": self.page_size,
                }
        return parameters
