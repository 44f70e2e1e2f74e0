from django.urls import path

from . import api
from .api_tokens import api as api_tokens

urlpatterns = [
    path("auth/login", api.LoginApi.as_view(), name="api-auth-login"),
    path("auth/refresh", api.RefreshApi.as_view(), name="api-auth-refresh"),
    path("auth/logout", api.LogoutApi.as_view(), name="api-auth-logout"),
    path("auth/logout-all", api.LogoutAllApi.as_view(), name="api-auth-logout-all"),
    path("auth/api-tokens", api_tokens.OwnApiTokenListApi.as_view(), name="api-auth-api-tokens"),
    path(
        "auth/api-tokens/<str:lookup_id>",
        api_tokens.OwnApiTokenRevokeApi.as_view(),
        name="api-auth-api-token",
    ),
    path("admin/users", api.UserListApi.as_view(), name="api-admin-users"),
]
