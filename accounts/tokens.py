"""JWT lifecycle: token versions (revoke everything at once) and refresh-token families."""

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from rest_framework_simplejwt.exceptions import TokenBackendError
from rest_framework_simplejwt.state import token_backend
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from .models import TokenRevocation

# Claim names. Copied from a refresh token to the access tokens made from it.
VERSION_CLAIM = "ver"
FAMILY_CLAIM = "fam"


def token_version(user_id) -> int:
    """Return the user's current token version (0 until first revoked)."""
    version = TokenRevocation.objects.filter(user_id=user_id).values_list("version", flat=True)
    return version.first() or 0


def new_refresh_token(user: User, *, family: str | None = None) -> RefreshToken:
    """Return a tracked refresh token stamped with the user's version and its family.

    A family is every token rotated from one login; it is named by the first jti.
    """
    refresh = RefreshToken.for_user(user)
    refresh[VERSION_CLAIM] = token_version(user.pk)
    refresh[FAMILY_CLAIM] = family or refresh["jti"]
    # for_user() stored the token before these claims existed; the stored copy is what
    # revoke_family reads the family from.
    OutstandingToken.objects.filter(jti=refresh["jti"]).update(token=str(refresh))
    return refresh


def is_current(payload, user_id) -> bool:
    """Return whether a token's version claim is the user's current one."""
    return payload.get(VERSION_CLAIM, 0) == token_version(user_id)


def revoke_all_tokens(*, user: User) -> int:
    """Make every token issued to the user so far fail; return the refresh tokens revoked.

    The version moves first, so an access token still in flight is refused at once;
    the refresh tokens are also blacklisted so the admin shows them revoked.
    """
    now = timezone.now()
    with transaction.atomic():
        moved = TokenRevocation.objects.filter(user_id=user.pk).update(
            version=F("version") + 1, revoked_at=now
        )
        if not moved:
            try:
                with transaction.atomic():
                    TokenRevocation.objects.create(user_id=user.pk, version=1, revoked_at=now)
            except IntegrityError:  # created by a concurrent revocation: move it on
                TokenRevocation.objects.filter(user_id=user.pk).update(
                    version=F("version") + 1, revoked_at=now
                )
        live = list(
            OutstandingToken.objects.filter(user_id=user.pk, expires_at__gt=now).exclude(
                blacklistedtoken__isnull=False
            )
        )
        BlacklistedToken.objects.bulk_create(
            [BlacklistedToken(token=token) for token in live], ignore_conflicts=True
        )
    return len(live)


def family_of(encoded: str) -> str:
    """Return the family claim of a stored token ("" when it has none or is unreadable)."""
    try:
        # simplejwt annotates the encoded token as a Token; it takes the string.
        payload = token_backend.decode(encoded, verify=False)  # type: ignore[arg-type]
    except TokenBackendError:
        return ""
    return str(payload.get(FAMILY_CLAIM, ""))


def revoke_family(*, user_id, family: str) -> int:
    """Blacklist every live refresh token of a family; return how many were live.

    Reuse of a rotated token means two parties hold the family (OAuth 2.0 Security BCP,
    refresh token rotation): which one is the thief is unknown, so all of it ends.
    """
    if not family:
        return 0
    now = timezone.now()
    live = OutstandingToken.objects.filter(user_id=user_id, expires_at__gt=now).exclude(
        blacklistedtoken__isnull=False
    )
    members = [token for token in live if family_of(token.token) == family]
    BlacklistedToken.objects.bulk_create(
        [BlacklistedToken(token=token) for token in members], ignore_conflicts=True
    )
    return len(members)
