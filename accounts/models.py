"""Account state the framework does not keep: sessions by user, token revocation time."""

from django.conf import settings
from django.contrib.sessions.base_session import AbstractBaseSession
from django.db import models


class UserSession(AbstractBaseSession):
    """A database session that knows its user, so all of a user's sessions can be ended."""

    user_id = models.BigIntegerField(null=True, blank=True, db_index=True)

    class Meta:
        db_table = "accounts_user_session"

    @classmethod
    def get_session_store_class(cls):
        from .sessions import SessionStore

        return SessionStore


class TokenRevocation(models.Model):
    """A user's token version: tokens carrying an older version are refused.

    Raised by a password change (any path) and by "log out everywhere". A counter, not
    a time: a token's `iat` has one-second resolution, so comparing times either lets a
    token from the revoking second through or refuses a login made just after it.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True
    )
    revoked_at = models.DateTimeField()
    version = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"tokens of user {self.user_id} revoked at {self.revoked_at:%Y-%m-%d %H:%M:%S}"
