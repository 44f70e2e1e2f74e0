"""JWT authentication API under /api/v2/auth/ and the staff user list."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import AuthenticationFailed, PermissionDenied
from rest_framework.generics import ListAPIView
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.api.pagination import BoundedPageSize
from audit.services import record_event
from ocr_project.common.permissions import HasDjangoPermission

from .api_tokens.permissions import TokenScopePermission
from .selectors import user_list
from .serializers import (
    LoginInputSerializer,
    RefreshInputSerializer,
    TokenPairOutputSerializer,
    UserOutputSerializer,
)
from .services import AuthError, jwt_login, jwt_logout, jwt_refresh, logout_everywhere
from .throttling import LoginRateThrottle, LogoutRateThrottle, RefreshRateThrottle


class AuthApi(APIView):
    def get_authenticate_header(self, request) -> str:
        # DRF turns AuthenticationFailed into 403 when no authentication class names a
        # scheme, as on login and refresh; refused credentials are 401, as documented.
        return 'Bearer realm="api"'


class LoginApi(AuthApi):
    """Exchange a username and password for an access/refresh token pair."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [LoginRateThrottle]

    # No credential is asked for: the schema says so, and a generated client sends none.
    @extend_schema(
        auth=[],
        request=LoginInputSerializer,
        responses={200: TokenPairOutputSerializer, 401: OpenApiResponse(description="Refused")},
    )
    def post(self, request):
        data = LoginInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            # The plain HttpRequest: django-axes marks lockouts on it for its middleware.
            pair = jwt_login(request=request._request, **data.validated_data)
        except AuthError as error:
            raise AuthenticationFailed(error.message) from None
        return Response(TokenPairOutputSerializer(pair).data)


class RefreshApi(AuthApi):
    """Rotate a refresh token: the old one stops working, a new pair is returned."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [RefreshRateThrottle]

    @extend_schema(
        auth=[],
        request=RefreshInputSerializer,
        responses={200: TokenPairOutputSerializer, 401: OpenApiResponse(description="Refused")},
    )
    def post(self, request):
        data = RefreshInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            pair = jwt_refresh(raw_refresh=data.validated_data["refresh"])
        except AuthError as error:
            raise AuthenticationFailed(error.message, code=error.reason) from None
        return Response(TokenPairOutputSerializer(pair).data)


class LogoutApi(AuthApi):
    """Revoke one of your refresh tokens."""

    # TokenScopePermission: an API token names no scope here, so it cannot log anyone out.
    permission_classes = [IsAuthenticated, TokenScopePermission]
    throttle_classes = [LogoutRateThrottle]

    @extend_schema(
        request=RefreshInputSerializer,
        responses={
            204: None,
            401: OpenApiResponse(description="Not authenticated, or the refresh token refused"),
            403: OpenApiResponse(description="The refresh token is another user's"),
        },
    )
    def post(self, request):
        data = RefreshInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            jwt_logout(user=request.user, raw_refresh=data.validated_data["refresh"])
        except AuthError as error:
            if error.reason == "foreign_token":
                raise PermissionDenied(error.message) from None
            # 401 as on /auth/refresh: an invalid, expired or revoked refresh token is a
            # refused credential on both endpoints, not a malformed body.
            raise AuthenticationFailed(error.message, code=error.reason) from None
        return Response(status=status.HTTP_204_NO_CONTENT)


class LogoutAllApi(AuthApi):
    """End all your sessions and revoke all your tokens, on every device."""

    permission_classes = [IsAuthenticated, TokenScopePermission]
    throttle_classes = [LogoutRateThrottle]

    @extend_schema(request=None, responses={204: None})
    def post(self, request):
        logout_everywhere(user=request.user, method="jwt")
        return Response(status=status.HTTP_204_NO_CONTENT)


class UserPagination(BoundedPageSize, PageNumberPagination):
    page_size = 50
    max_page_size = 200


class UserListApi(ListAPIView):
    """List all user accounts; needs auth.view_user."""

    permission_classes = [HasDjangoPermission]
    required_permission = "auth.view_user"
    serializer_class = UserOutputSerializer
    pagination_class = UserPagination

    def get_queryset(self):
        return user_list()

    def list(self, request, *args, **kwargs):
        response = super().list(request, *args, **kwargs)
        record_event(
            event_type="admin_view_users",
            user=request.user,
            resource_type="user",
            metadata={"surface": "api", "page": request.query_params.get("page", "1")[:10]},
        )
        return response
