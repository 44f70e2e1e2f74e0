"""JWT authentication that honours revocation (password change, log out everywhere)."""

from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken

from .tokens import is_current


class RevocableJWTAuthentication(JWTAuthentication):
    """Refuse access tokens whose version predates the user's last revocation."""

    def get_user(self, validated_token):
        user = super().get_user(validated_token)
        if not is_current(validated_token, user.pk):
            raise InvalidToken("Token was revoked by a password change or a logout everywhere.")
        return user
