"""Explicit input and output shapes of the authentication and user APIs."""

from typing import Any

from rest_framework import serializers

from audit.api.serializers import CanonicalDateTimeField


class LoginInputSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=4096, trim_whitespace=False, write_only=True)


class RefreshInputSerializer(serializers.Serializer):
    # Not trimmed: "  " is a refresh token that does not check out (401, as any other),
    # not a blank field the schema did not forbid.
    refresh = serializers.CharField(max_length=4096, trim_whitespace=False)


class TokenPairOutputSerializer(serializers.Serializer):
    access = serializers.CharField(help_text="Bearer token for API calls (short-lived).")
    refresh = serializers.CharField(help_text="Single-use token for POST /api/v2/auth/refresh.")


class OptionalEmailField(serializers.EmailField):
    """An address, or null for an account without one (Django stores that as "")."""

    def __init__(self, **kwargs) -> None:
        super().__init__(allow_null=True, **kwargs)

    # Any: DRF's stubs type a field's representation as str, and this one may be null.
    def to_representation(self, value: str) -> Any:
        # "" is no email address: the schema's `format: email` would be a lie for it.
        return value or None


class UserOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    email = OptionalEmailField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    is_active = serializers.BooleanField()
    is_staff = serializers.BooleanField()
    is_superuser = serializers.BooleanField()
    date_joined = CanonicalDateTimeField()
    last_login = CanonicalDateTimeField(allow_null=True)
