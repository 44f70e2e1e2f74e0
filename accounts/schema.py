"""OpenAPI description of the project's JWT authentication (drf-spectacular extension)."""

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme


class RevocableJWTScheme(SimpleJWTScheme):
    """Document RevocableJWTAuthentication as the Bearer JWT scheme it extends."""

    target_class = "accounts.authentication.RevocableJWTAuthentication"
