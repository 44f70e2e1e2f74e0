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
    """When a user last logged out everywhere: access tokens issued before are refused."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True
    )
    revoked_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"tokens of user {self.user_id} revoked at {self.revoked_at:%Y-%m-%d %H:%M:%S}"
