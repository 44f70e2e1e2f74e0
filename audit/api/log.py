"""The public face of the audit trail's transparency log: for witnesses and auditors.

GET /api/v2/audit-log/checkpoint    the newest signed checkpoint, with its cosignatures
GET /api/v2/audit-log/consistency   the consistency proof between two tree sizes
POST /api/v2/audit-log/cosignatures a witness's cosigned checkpoint

Public on purpose, with no login: a witness is another party, and holds no account
here. What these answers reveal is hashes only: a tree size, a root and the RFC 9162
proof nodes, each a SHA-256 over event records nobody can recover from it (as the
public key at /.well-known/audit-log-key reveals nothing). The size tells how many
events were recorded, which the public accepts as the price of a verifiable trail.
Events, inclusion proofs (which name an event) and exports stay behind the staff
permission. No audit event is recorded for these reads: nothing of the trail is read,
and an anonymous caller could otherwise fill the trail with its own reads.
"""

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import BaseParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from ..transparency.cosignatures import (
    CosignatureRefused,
    newest_cosigned_note,
    store_cosignatures,
)
from ..transparency.proofs import ConsistencyProof, ProofRefused, tree_consistency_proof
from .serializers import ConsistencyProofOutputSerializer, ConsistencyQuerySerializer

# A checkpoint is three lines and a few signature lines; C2SP caps a note at 100 of them.
MAX_NOTE_BYTES = 64 * 1024


class SignedNoteParser(BaseParser):
    """A signed note as the body: UTF-8 text/plain, at most MAX_NOTE_BYTES."""

    media_type = "text/plain"

    def parse(self, stream, media_type=None, parser_context=None):
        body = stream.read(MAX_NOTE_BYTES + 1) if stream is not None else b""
        if len(body) > MAX_NOTE_BYTES:
            raise ValidationError({"note": [f"A signed note is at most {MAX_NOTE_BYTES} bytes."]})
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError:
            raise ValidationError({"note": ["The note is not UTF-8."]}) from None


def consistency_proof_for(query_params) -> ConsistencyProof:
    """The consistency proof a request's ``from`` and ``to`` ask for; a 400 names a bad one.

    One reading of the sizes for the staff endpoint and the public one.
    """
    query = ConsistencyQuerySerializer(data=query_params)
    query.is_valid(raise_exception=True)
    sizes = query.validated_data
    try:
        return tree_consistency_proof(old_size=sizes["from"], new_size=sizes.get("to"))
    except ProofRefused as refused:
        raise ValidationError({refused.field: [str(refused)]}) from None


def consistency_proof_response(proof: ConsistencyProof) -> Response:
    data = {"from": proof.old_size, "to": proof.new_size, "proof": proof.proof}
    return Response(ConsistencyProofOutputSerializer(data).data)


class PublicLogApi(APIView):
    """No login and no CSRF: the answers are public hashes, a cosignature its own proof."""

    authentication_classes: list = []
    permission_classes = [AllowAny]


class LatestCheckpointApi(PublicLogApi):
    @extend_schema(
        responses={
            (200, "text/plain"): OpenApiResponse(
                OpenApiTypes.STR,
                description="The newest signed tlog checkpoint (C2SP signed note), the "
                "log's signature line followed by every stored witness cosignature.",
            ),
            404: OpenApiResponse(description="No checkpoint has been signed yet."),
        },
        description="Public: what a witness fetches and cosigns. Verify it with the key at "
        "/.well-known/audit-log-key.",
    )
    def get(self, request):
        note = newest_cosigned_note()
        if note is None:
            return HttpResponse(
                "No checkpoint has been signed yet.\n", status=404, content_type="text/plain"
            )
        response = HttpResponse(note, content_type="text/plain; charset=utf-8")
        response["Cache-Control"] = "no-store"
        return response


class PublicConsistencyProofApi(PublicLogApi):
    @extend_schema(
        parameters=[ConsistencyQuerySerializer],
        responses={
            200: ConsistencyProofOutputSerializer,
            400: OpenApiResponse(description="A size refused, field by field."),
        },
        description="Public: the RFC 9162 consistency proof from `from` leaves to `to` "
        "leaves (by default the newest signed checkpoint's size), as the staff endpoint "
        "gives it. 400 names the size refused.",
    )
    def get(self, request):
        return consistency_proof_response(consistency_proof_for(request.query_params))


class CosignatureApi(PublicLogApi):
    parser_classes = [SignedNoteParser]

    @extend_schema(
        request={"text/plain": OpenApiTypes.STR},
        responses={
            201: OpenApiResponse(description="At least one new cosignature was stored."),
            200: OpenApiResponse(description="Every cosignature was stored before."),
            400: OpenApiResponse(description="Not a checkpoint signed by this log."),
            403: OpenApiResponse(description="No line verifies with a configured witness key."),
            404: OpenApiResponse(description="No stored checkpoint of that size."),
            409: OpenApiResponse(description="The checkpoint differs from the stored one."),
            503: OpenApiResponse(
                description="This host's database login may not store cosignatures."
            ),
        },
        description="A witness submits the checkpoint it cosigned, its cosignature line "
        "appended. Stored only when the log's signature holds, the text is the stored "
        "checkpoint's and a line verifies with a key of AUDIT_WITNESS_KEYS.",
    )
    def post(self, request):
        note = request.data if isinstance(request.data, str) else ""
        try:
            accepted = store_cosignatures(note=note)
        except CosignatureRefused as refused:
            return Response(
                {"detail": str(refused), "code": "cosignature_refused"}, status=refused.status
            )
        return Response(
            {"size": accepted.size, "stored": accepted.stored, "already": accepted.already},
            status=201 if accepted.stored else 200,
        )
