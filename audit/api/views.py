"""GET /api/v2/admin/audit-logs: the audit trail for staff and SIEM integrations.

Also the Merkle tree's proofs: /audit-logs/<id>/proof (an event's inclusion) and
/audit-logs/consistency (one tree size a prefix of another), with the same permission.
"""

from django.http import Http404, StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, renderers
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import Cursor, CursorPagination
from rest_framework.response import Response
from rest_framework.settings import api_settings

from ocr_project.common.api_views import JsonErrorsAPIView
from ocr_project.common.permissions import HasDjangoPermission

from ..events import EVENT_CATEGORIES
from ..selectors import audit_events_for_listing
from ..services import record_event
from ..transparency.proofs import (
    EventNotInTree,
    ProofRefused,
    event_inclusion_proof,
)
from .export import (
    EXPORT_COLUMNS,
    NDJSON_COLUMNS,
    OCSF_COLUMNS,
    csv_lines,
    ndjson_lines,
    ocsf_lines,
    rows,
)
from .filters import AuditEventFilter
from .log import consistency_proof_for, consistency_proof_response
from .pagination import BoundedPageSize
from .serializers import (
    AuditEventOutputSerializer,
    ConsistencyProofOutputSerializer,
    ConsistencyQuerySerializer,
    InclusionProofOutputSerializer,
    ProofQuerySerializer,
)


class AuditCursorPagination(BoundedPageSize, CursorPagination):
    """Cursor pagination: constant cost on any page, no COUNT(*) over the table."""

    # The sequence follows the timestamp (both are assigned under the chain lock) and
    # is unique, so it is the exact, index-backed form of "ordering by timestamp".
    ordering = "-sequence"
    page_size = 100
    max_page_size = 1000

    def get_next_link(self) -> str | None:
        """The next page; oldest first, at the tail too: the cursor of what comes after.

        Newest first, the listing ends at the oldest event and ``next`` is null, as DRF
        has it. Oldest first, a poller (as with Okta's System Log) keeps ``next`` and
        calls it again later: the tail cursor asks for sequence numbers above the last
        one seen, and since the sealer hands out sequence numbers in increasing order,
        an event sealed later always lands above it: nothing is skipped, nothing repeated.
        """
        link = super().get_next_link()
        if link is not None or self.ordering[0] != "sequence":
            return link
        return self.encode_cursor(Cursor(offset=0, reverse=False, position=self.tail_position()))

    def tail_position(self) -> int:
        """Return the sequence number the tail cursor continues after."""
        if self.page:
            return int(self._get_position_from_instance(self.page[-1], self.ordering))
        if self.cursor is not None and self.cursor.position is not None:
            # An empty page at the tail: nothing new yet, so the same place again
            # (decode_cursor let only a whole number through).
            return int(self.cursor.position)
        # Nothing matched yet: every event that matches later is new (sequences start at 1).
        return 0

    def get_paginated_response_schema(self, schema: dict) -> dict:
        paginated = super().get_paginated_response_schema(schema)
        paginated["properties"]["next"]["description"] = (
            "The next page. Oldest first (`ordering=timestamp`) it is never null: on the "
            "last page it is the tail cursor, which lists only events sealed after this "
            "page's last one; keep it and call it again later to poll for what is new "
            "(a page shorter than `page_size` is the tail). Newest first (the default) "
            "it is null on the last page."
        )
        paginated["properties"]["previous"]["description"] = "The page before, or null."
        return paginated

    def decode_cursor(self, request):
        """Return the request's cursor; a mangled or forged one is a 400 naming `cursor`."""
        try:
            cursor = super().decode_cursor(request)
        except NotFound:
            raise ValidationError({"cursor": [self.invalid_cursor_message]}) from None
        # The position is compared with the sequence column: anything but a whole number
        # that fits it was forged, and would fail in the database (500) rather than here.
        position = cursor.position if cursor is not None else None
        # (Length first: int() refuses more than 4,300 digits with a ValueError.)
        if position is not None and not (
            position.isascii()
            and position.isdigit()
            and len(position) <= 19
            and int(position) < 2**63
        ):
            raise ValidationError({"cursor": [self.invalid_cursor_message]})
        return cursor


class StreamingFormatRenderer(renderers.BaseRenderer):
    """Lets content negotiation accept ?format=csv|ndjson; the view streams the body."""

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return b""


class CsvRenderer(StreamingFormatRenderer):
    media_type = "text/csv"
    format = "csv"


class NdjsonRenderer(StreamingFormatRenderer):
    media_type = "application/x-ndjson"
    format = "ndjson"


class OcsfRenderer(StreamingFormatRenderer):
    """OCSF 1.3 events, one per line (docs/siem.md); asked for with ?format=ocsf."""

    media_type = "application/x-ndjson"
    format = "ocsf"


STREAMS = {
    "csv": (csv_lines, "text/csv; charset=utf-8", EXPORT_COLUMNS),
    "ndjson": (ndjson_lines, "application/x-ndjson", NDJSON_COLUMNS),
    "ocsf": (ocsf_lines, "application/x-ndjson", OCSF_COLUMNS),
}


class AuditLogListApi(JsonErrorsAPIView, generics.ListAPIView):
    """List audit events, newest first; needs audit.view_auditevent."""

    permission_classes = [HasDjangoPermission]
    required_permission = "audit.view_auditevent"
    serializer_class = AuditEventOutputSerializer
    filterset_class = AuditEventFilter
    pagination_class = AuditCursorPagination
    # djangorestframework-stubs type the setting as its dotted paths; DRF imports them.
    renderers = [CsvRenderer, NdjsonRenderer, OcsfRenderer]
    renderer_classes = [*api_settings.DEFAULT_RENDERER_CLASSES, *renderers]  # type: ignore[list-item]
    # The CSV and NDJSON renderers only stream rows: a 400 naming the bad filter is JSON.
    data_only_renderers = (StreamingFormatRenderer,)

    def get_queryset(self):
        queryset = audit_events_for_listing()
        ordering = self.request.query_params.get("ordering")
        if ordering not in (None, "timestamp", "-timestamp"):
            # Declared as an enum: another value is a 400, not the default order.
            raise ValidationError({"ordering": ["Choose timestamp or -timestamp."]})
        if ordering == "timestamp":
            queryset = queryset.order_by("sequence")
        return queryset

    def paginate_queryset(self, queryset):
        if self.request.query_params.get("ordering") == "timestamp":
            self.paginator.ordering = "sequence"
        return super().paginate_queryset(queryset)

    @extend_schema(
        parameters=[
            # A comma-separated list of the vocabulary's event types (form, not exploded).
            OpenApiParameter(
                "event_type",
                OpenApiTypes.STR,
                many=True,
                enum=list(EVENT_CATEGORIES),
                explode=False,
                style="form",
                description="One event type, or several separated by commas.",
            ),
            OpenApiParameter(
                "ordering",
                OpenApiTypes.STR,
                enum=["timestamp", "-timestamp"],
                description="Oldest first with `timestamp`, where the last page's `next` "
                "is a tail cursor to keep and poll for new events; newest first by default.",
            ),
            OpenApiParameter(
                "format",
                OpenApiTypes.STR,
                enum=["json", "csv", "ndjson", "ocsf"],
                description="`csv`, `ndjson` and `ocsf` (OCSF 1.3 events, one per line) "
                "stream every matching event, unpaginated.",
            ),
        ]
    )
    def get(self, request, *args, **kwargs):
        # Filters are validated first: a rejected query (400) is not a view of the log.
        queryset = self.filter_queryset(self.get_queryset())
        fmt = request.accepted_renderer.format
        stream = STREAMS.get(fmt)
        if stream is None:
            # The page is read (and a forged cursor refused) before the view is recorded.
            page = self.paginate_queryset(queryset)
            self.record_access("audit_view", fmt)
            return self.get_paginated_response(self.get_serializer(page, many=True).data)
        self.record_access("audit_export", fmt)
        lines, content_type, columns = stream
        response = StreamingHttpResponse(
            lines(rows(queryset, columns=columns)), content_type=content_type
        )
        stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
        response["Content-Disposition"] = f'attachment; filename="audit-{stamp}.{fmt}"'
        return response

    def perform_content_negotiation(self, request, force=False):
        if not force and request.query_params.get("format", None) == "":
            # DRF takes an empty ?format= for none at all; the schema's enum has no "".
            raise ValidationError({"format": ["Choose json, csv or ndjson."]})
        try:
            return super().perform_content_negotiation(request, force)
        except Http404:
            # DRF answers an unknown ?format= with 404; it is a bad parameter, not a
            # missing page.
            formats = ", ".join(renderer.format for renderer in self.get_renderers())
            raise ValidationError(
                {"format": [f"Unknown format; choose one of: {formats}."]}
            ) from None

    def record_access(self, event_type: str, fmt: str) -> None:
        """Record that staff read or exported the log: one event per request."""
        record_event(
            event_type=event_type,
            user=self.request.user,
            resource_type="audit_log",
            metadata={"format": fmt, "filters": self.active_filters()},
        )

    def active_filters(self) -> dict[str, str]:
        """Return the filter parameters of this request, for the audit_view record."""
        known = set(AuditEventFilter.base_filters) | {"ordering"}
        return {
            key: str(value)[:200]
            for key, value in self.request.query_params.items()
            if key in known
        }


class AuditProofApi(JsonErrorsAPIView):
    """Base of the proof endpoints: the audit list's permission; each read is recorded."""

    permission_classes = [HasDjangoPermission]
    required_permission = "audit.view_auditevent"

    def record_proof(self, *, resource_id: str, metadata: dict) -> None:
        record_event(
            event_type="audit_view",
            user=self.request.user,
            resource_type="audit_log",
            resource_id=resource_id,
            metadata=metadata,
        )


class AuditEventProofApi(AuditProofApi):
    """Prove that a sealed event is in the trail's Merkle tree of a given size."""

    @extend_schema(
        parameters=[ProofQuerySerializer],
        responses={
            200: InclusionProofOutputSerializer,
            400: OpenApiResponse(description="The size refused, field by field."),
        },
        description="The RFC 9162 inclusion proof of the event's leaf (sequence - 1) in the "
        "tree of `size` leaves, and the signed tlog checkpoint of that size if one was "
        "signed. 400 names `size` when the tree of that size does not hold the event.",
    )
    def get(self, request, event_id: int):
        query = ProofQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        try:
            proof = event_inclusion_proof(event_id=event_id, size=query.validated_data.get("size"))
        except EventNotInTree:
            raise NotFound("No sealed audit event with this id.") from None
        except ProofRefused as refused:
            raise ValidationError({refused.field: [str(refused)]}) from None
        self.record_proof(
            resource_id=str(event_id), metadata={"proof": "inclusion", "size": proof.tree_size}
        )
        return Response(InclusionProofOutputSerializer(proof).data)


class AuditConsistencyProofApi(AuditProofApi):
    """Prove that the trail's tree of one size is a prefix of the tree of a larger one."""

    @extend_schema(
        parameters=[ConsistencyQuerySerializer],
        responses={
            200: ConsistencyProofOutputSerializer,
            400: OpenApiResponse(description="A size refused, field by field."),
        },
        description="The RFC 9162 consistency proof from `from` leaves to `to` leaves (by "
        "default the newest signed checkpoint's size). 400 names the size refused.",
    )
    def get(self, request):
        proof = consistency_proof_for(request.query_params)
        self.record_proof(
            resource_id="",
            metadata={"proof": "consistency", "from": proof.old_size, "to": proof.new_size},
        )
        return consistency_proof_response(proof)
