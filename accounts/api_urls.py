from django.urls import path

from . import api

urlpatterns = [
    path("auth/login", api.LoginApi.as_view(), name="api-auth-login"),
    path("auth/refresh", api.RefreshApi.as_view(), name="api-auth-refresh"),
    path("auth/logout", api.LogoutApi.as_view(), name="api-auth-logout"),
    path("auth/logout-all", api.LogoutAllApi.as_view(), name="api-auth-logout-all"),
    path("admin/users", api.UserListApi.as_view(), name="api-admin-users"),
]
