"""GET /api/v2/auth/api-tokens and DELETE …/<id>: a person lists and revokes their own tokens.

Issuing stays with the admin and the `api_token` command, where a permission decides it.
Signed in by session or JWT only: a token cannot list or revoke tokens (it names no
scope, so TokenScopePermission refuses it).
"""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.generics import ListAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from ..models import ApiToken
from .permissions import TokenScopePermission
from .selectors import api_token_of, api_tokens_of
from .serializers import ApiTokenOutputSerializer
from .services import api_token_revoke


class OwnApiTokenListApi(ListAPIView):
    """List your API tokens, newest first (their text is never shown again)."""

    permission_classes = [IsAuthenticated, TokenScopePermission]
    serializer_class = ApiTokenOutputSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ApiToken.objects.none()
        return api_tokens_of(self.request.user)


class OwnApiTokenRevokeApi(APIView):
    """Revoke one of your API tokens; it is refused from the next request on."""

    permission_classes = [IsAuthenticated, TokenScopePermission]

    @extend_schema(request=None, responses={204: None})
    def delete(self, request, lookup_id: str):
        token = api_token_of(request.user, lookup_id)
        api_token_revoke(token=token, actor=request.user, via="api")
        return Response(status=status.HTTP_204_NO_CONTENT)
