"""Account state the framework does not keep: sessions by user, token revocation, API tokens."""

from django.conf import settings
from django.contrib.sessions.base_session import AbstractBaseSession
from django.db import models
from django.utils.translation import gettext_lazy as _

from .api_tokens.format import PREFIX
from .api_tokens.scopes import scopes_covering


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


class ServiceAccount(models.Model):
    """Marks a user as a machine: it holds API tokens and can never log in with a password.

    A row beside Django's user rather than a convention (an unusable password): a
    superuser setting a password in the admin does not turn it back into a person,
    because the password backend (accounts.backends) refuses every marked account.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="service_account",
    )
    description = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"service account {self.user_id}"


class ApiToken(models.Model):
    """A scoped, expiring, revocable API credential of a user; only its hash is stored.

    Looked up by `lookup_id`, the public part of the token text, then compared by hash
    in constant time (accounts.api_tokens.services).
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="api_tokens",
        verbose_name=_("owner"),
    )
    name = models.CharField(_("name"), max_length=100)
    lookup_id = models.CharField(_("lookup ID"), max_length=16, unique=True)
    secret_hash = models.CharField(_("secret hash"), max_length=64)
    scopes = models.JSONField(_("scopes"), default=list)
    created_at = models.DateTimeField(_("created at"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    expires_at = models.DateTimeField(_("expires at"))
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("revoked by"),
    )
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)
    last_used_ip = models.GenericIPAddressField(_("last used from"), null=True, blank=True)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{PREFIX}{self.lookup_id}… ({self.name})"

    # Asked by ocr_project.common.permissions.HasDjangoPermission when this token is the request's
    # credential: the token narrows its owner's permissions to what its scopes cover.
    def has_perm(self, permission: str) -> bool:
        return any(scope in self.scopes for scope in scopes_covering(permission))

    def refusal_message(self, permission: str) -> str:
        needed = scopes_covering(permission)
        if not needed:
            return "API tokens cannot use this endpoint."
        return f"The API token lacks the scope {' or '.join(needed)}."


class ApiTokenAddress(models.Model):
    """An address a token was used from: the first use from a new one is audited."""

    token = models.ForeignKey(
        ApiToken, on_delete=models.CASCADE, related_name="addresses", verbose_name=_("API token")
    )
    ip_address = models.GenericIPAddressField(_("IP address"))
    first_used_at = models.DateTimeField(_("first used at"))

    class Meta:
        verbose_name = _("API token address")
        verbose_name_plural = _("API token addresses")
        constraints = [
            models.UniqueConstraint(fields=["token", "ip_address"], name="api_token_address_once")
        ]

    def __str__(self) -> str:
        return f"{self.ip_address} since {self.first_used_at:%Y-%m-%d %H:%M:%S}"
