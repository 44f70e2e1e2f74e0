"""Authentication actions the project owns: JWT login, refresh, logout, logout everywhere."""

from dataclasses import dataclass

from axes.utils import reset
from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.models import User
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from rest_framework_simplejwt.exceptions import TokenBackendError, TokenError
from rest_framework_simplejwt.state import token_backend
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from audit.events import Outcome
from audit.services import record_event

from .models import UserSession
from .tokens import FAMILY_CLAIM, is_current, new_refresh_token, revoke_all_tokens, revoke_family


class AuthError(Exception):
    """An authentication action was refused; ``reason`` is a stable machine name."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason


@dataclass(frozen=True)
class TokenPair:
    access: str
    refresh: str


def issue_tokens(user: User, *, family: str | None = None) -> tuple[TokenPair, RefreshToken]:
    """Return a fresh access/refresh pair for the user (the refresh token is tracked)."""
    refresh = new_refresh_token(user, family=family)
    return TokenPair(access=str(refresh.access_token), refresh=str(refresh)), refresh


def jwt_login(*, request: HttpRequest, username: str, password: str) -> TokenPair:
    """Check the credentials and return a token pair.

    A refusal is recorded by the user_login_failed receiver, which Django's
    authenticate() triggers; django-axes also counts it there.
    """
    user = authenticate(request, username=username, password=password)
    if user is None:
        raise AuthError("No active account found with the given credentials.", reason="invalid")
    with transaction.atomic():
        pair, refresh = issue_tokens(user)
        record_event(
            event_type="auth_login",
            user=user,
            resource_type="user",
            resource_id=user.pk,
            metadata={"method": "jwt", "jti": refresh["jti"]},
        )
    return pair


def refresh_failed(reason: str, message: str, **metadata) -> AuthError:
    """Record a refused refresh and return the error to raise."""
    record_event(
        event_type="auth_token_refresh",
        outcome=Outcome.FAILURE,
        user=metadata.pop("user", None),
        resource_type="token",
        message=message,
        metadata={"reason": reason, **metadata},
    )
    return AuthError(message, reason=reason)


def replayed_refresh(raw_refresh: str) -> AuthError:
    """Record a refused refresh of a revoked token, naming its owner when genuine.

    A validly signed, unexpired token that is already blacklisted was used before:
    a replay after rotation (or after logout), which a SIEM wants attributed.
    """
    try:
        # simplejwt annotates the encoded token as a Token; it takes the string.
        payload = token_backend.decode(raw_refresh, verify=True)  # type: ignore[arg-type]
    except TokenBackendError:
        return refresh_failed("blacklisted", "Refresh token is invalid, expired or revoked.")
    # A payload without user_id (pk=None) matches no one.
    owner = get_user_model().objects.filter(pk=payload.get("user_id")).first()  # type: ignore[misc]
    family = str(payload.get(FAMILY_CLAIM, ""))[:64]
    with transaction.atomic():
        revoked = revoke_family(user_id=owner.pk, family=family) if owner is not None else 0
        return refresh_failed(
            "reused",
            "Refresh token was already used or revoked.",
            user=owner,
            jti=str(payload.get("jti", ""))[:64],
            family=family,
            family_revoked=revoked,
        )


def jwt_refresh(*, raw_refresh: str) -> TokenPair:
    """Rotate a refresh token: blacklist it and return a new pair.

    The token's tracking row is locked while it is checked and blacklisted, so two
    parallel refreshes of one token cannot both succeed.
    """
    try:
        token = RefreshToken(raw_refresh)  # type: ignore[arg-type]  # the string, see above
    except TokenError as error:
        if "blacklist" in str(error).lower():
            raise replayed_refresh(raw_refresh) from None
        raise refresh_failed("invalid", "Refresh token is invalid, expired or revoked.") from error
    jti = token["jti"]
    with transaction.atomic():
        outstanding = OutstandingToken.objects.select_for_update().filter(jti=jti).first()
        failure: tuple[str, str, User | None] | None
        if outstanding is None or outstanding.user is None:
            failure = ("unknown", "Refresh token is not recognised.", None)
        elif BlacklistedToken.objects.filter(token=outstanding).exists():
            # Lost a race with a parallel rotation of the same token: a replay too.
            failure = ("replayed", "", None)
        elif not outstanding.user.is_active:
            failure = ("inactive", "The account is disabled.", outstanding.user)
        elif not is_current(token.payload, outstanding.user_id):
            # Issued before a password change or a logout everywhere.
            failure = ("revoked", "Refresh token was revoked.", outstanding.user)
        else:
            failure = None
            user = outstanding.user
            BlacklistedToken.objects.create(token=outstanding)
            family = token.get(FAMILY_CLAIM) or jti
            pair, new_refresh = issue_tokens(user, family=family)
            record_event(
                event_type="auth_token_refresh",
                user=user,
                resource_type="token",
                resource_id=new_refresh["jti"],
                metadata={"rotated_from_jti": jti, "family": family},
            )
    if failure is not None:
        reason, message, owner = failure
        if reason == "replayed":
            raise replayed_refresh(raw_refresh)
        raise refresh_failed(reason, message, user=owner, jti=jti)
    return pair


def jwt_logout(*, user: User, raw_refresh: str) -> None:
    """Blacklist one refresh token of the user's."""
    try:
        token = RefreshToken(raw_refresh)  # type: ignore[arg-type]  # the string, see above
    except TokenError as error:
        raise AuthError(
            "Refresh token is invalid, expired or revoked.", reason="invalid"
        ) from error
    if str(token.get("user_id")) != str(user.pk):
        record_event(
            event_type="auth_logout",
            outcome=Outcome.FAILURE,
            user=user,
            resource_type="token",
            resource_id=token["jti"],
            message="Refused to revoke another user's token",
            metadata={"method": "jwt", "scope": "token", "reason": "foreign_token"},
        )
        raise AuthError("This refresh token belongs to another user.", reason="foreign_token")
    with transaction.atomic():
        outstanding = OutstandingToken.objects.filter(jti=token["jti"]).first()
        if outstanding is not None:
            BlacklistedToken.objects.get_or_create(token=outstanding)
        record_event(
            event_type="auth_logout",
            user=user,
            resource_type="token",
            resource_id=token["jti"],
            metadata={"method": "jwt", "scope": "token", "tokens_revoked": 1},
        )


def logout_everywhere(*, user: User, method: str) -> dict:
    """End every session of the user and revoke every token; return what was ended."""
    now = timezone.now()
    with transaction.atomic():
        sessions = UserSession.objects.filter(user_id=user.pk)
        # Expired sessions are removed too, but only live ones count as "ended".
        sessions_ended = sessions.filter(expire_date__gt=now).count()
        sessions.delete()
        # Access tokens are stateless; the version bump makes authentication refuse any
        # issued before it (accounts.authentication), refresh tokens are blacklisted too.
        tokens_revoked = revoke_all_tokens(user=user)
        stats = {"sessions_ended": sessions_ended, "tokens_revoked": tokens_revoked}
        record_event(
            event_type="auth_logout",
            user=user,
            resource_type="user",
            resource_id=user.pk,
            message="Logged out of all sessions",
            metadata={"method": method, "scope": "all", **stats},
        )
    return stats


# Who may lift a lockout: django-axes' own permission to delete its attempt records,
# which is what lifting a lockout does; the same check on the dashboard and in the admin.
UNLOCK_PERMISSION = "axes.delete_accessattempt"


def account_unlock(
    *,
    username: str,
    ip_address: str | None,
    actor: User,
) -> int:
    """Lift django-axes' lockout of a username (from one address, or all); return rows cleared.

    Recorded as auth_unlock whether or not a lock was still in place: staff asked.
    """
    with transaction.atomic():
        # Both given: only that pair, as AXES_LOCKOUT_PARAMETERS locks username + IP.
        cleared = reset(ip=ip_address or None, username=username)
        record_event(
            event_type="auth_unlock",
            user=actor,
            resource_type="user",
            resource_id=username[:64],
            message=f"Unlocked {username}" + (f" from {ip_address}" if ip_address else ""),
            metadata={
                "unlocked_username": username,
                "unlocked_ip_address": ip_address or "",
                "attempts_cleared": cleared,
            },
        )
    return cleared
