"""JWT authentication that honours "log out everywhere" for access tokens too."""

from datetime import UTC, datetime

from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken

from .models import TokenRevocation


class RevocableJWTAuthentication(JWTAuthentication):
    """Refuse access tokens issued before the user's last logout-everywhere."""

    def get_user(self, validated_token):
        user = super().get_user(validated_token)
        revoked = TokenRevocation.objects.filter(user=user).values_list("revoked_at", flat=True)
        revoked_at = revoked.first()
        if revoked_at is not None:
            issued = datetime.fromtimestamp(int(validated_token.get("iat", 0)), tz=UTC)
            # iat has one-second resolution: a token from the same second as the
            # revocation is refused too, erring towards logged out.
            if issued <= revoked_at:
                raise InvalidToken("Token was revoked by a logout from all sessions.")
        return user
