"""Create, revoke and authenticate API tokens; each step is audited here, explicitly."""

import hmac
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.events import Outcome
from audit.services import record_event

from ..actor import current_actor
from ..models import ApiToken, ApiTokenAddress, ServiceAccount
from .format import new_token_text, parse, secret_hash
from .scopes import unknown_scopes

# last_used_at is written at most this often per token (and whenever the address
# changes): a poller calling every second would otherwise add a write to every read.
LAST_USED_RESOLUTION = timedelta(seconds=60)


class ApiTokenError(Exception):
    """A token could not be created or revoked as asked; ``field`` names the bad input."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class ApiTokenRefused(Exception):
    """A request's API token was refused; ``reason`` is a stable machine name."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason


@dataclass(frozen=True)
class IssuedToken:
    """A new token and its text, which exists only here: it is shown once, then gone."""

    token: ApiToken
    text: str


def _audit_fields(token: ApiToken, *, actor: User | None, via: str) -> dict:
    """Return what a create or revoke event says about the token and who acted.

    Without a signed-in actor (a command, a shell) the operating-system account is named,
    as for account changes: a blank actor would read as "nobody did this".
    """
    # Never a key naming "token": the trail redacts such keys as secrets (audit.sanitize).
    who = {} if actor is not None else current_actor().details
    return {
        **who,
        "via": via,
        "owner": token.user.get_username(),
        "owner_id": token.user_id,
        "name": token.name,
        "scopes": list(token.scopes),
        "expires_at": token.expires_at.isoformat(),
    }


def api_token_create(
    *, user: User, name: str, scopes: list[str], days: int, actor: User | None, via: str
) -> IssuedToken:
    """Issue a token for `user` with `scopes`, valid for `days` days; return its text once.

    `actor` is who asked (None for a command); `via` the surface (admin, api, command).
    """
    name = name.strip()
    if not name or len(name) > 100:
        raise ApiTokenError("Give the token a name of 1 to 100 characters.", field="name")
    if not scopes:
        raise ApiTokenError("Give the token at least one scope.", field="scopes")
    unknown = unknown_scopes(scopes)
    if unknown:
        raise ApiTokenError(f"Unknown scope: {', '.join(unknown)}.", field="scopes")
    maximum = settings.API_TOKEN_MAX_DAYS
    if not 1 <= days <= maximum:
        # A token without an end is a credential nobody remembers to revoke.
        raise ApiTokenError(f"A token lives 1 to {maximum} days.", field="days")
    if not user.is_active:
        raise ApiTokenError("The account is disabled.", field="user")
    issued = new_token_text()
    now = timezone.now()
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user,
            name=name,
            lookup_id=issued.lookup_id,
            secret_hash=secret_hash(issued.text),
            scopes=sorted(set(scopes)),
            created_at=now,
            created_by=actor,
            expires_at=now + timedelta(days=days),
        )
        record_event(
            event_type="api_token_create",
            user=actor,
            resource_type="token",
            resource_id=token.lookup_id,
            message=f"API token {token.lookup_id} issued to {user.get_username()}",
            metadata=_audit_fields(token, actor=actor, via=via),
        )
    return IssuedToken(token=token, text=issued.text)


def api_token_revoke(*, token: ApiToken, actor: User | None, via: str) -> bool:
    """Revoke a token; return False when it was already revoked (nothing recorded then)."""
    with transaction.atomic():
        now = timezone.now()
        # The row is locked, so two revocations record one event between them.
        locked = ApiToken.objects.select_for_update().select_related("user").get(pk=token.pk)
        if locked.revoked_at is not None:
            return False
        locked.revoked_at, locked.revoked_by = now, actor
        locked.save(update_fields=["revoked_at", "revoked_by"])
        record_event(
            event_type="api_token_revoke",
            user=actor,
            resource_type="token",
            resource_id=locked.lookup_id,
            message=f"API token {locked.lookup_id} of {locked.user.get_username()} revoked",
            metadata=_audit_fields(locked, actor=actor, via=via),
        )
    token.revoked_at, token.revoked_by = locked.revoked_at, locked.revoked_by
    return True


def _refuse(token: ApiToken, *, reason: str, message: str) -> ApiTokenRefused:
    """Record a refused known token against its owner, and return the error to raise.

    Unknown and malformed tokens are refused without a record: they name no one, and a
    flood of random strings would otherwise write the trail as fast as it is sent.
    """
    record_event(
        event_type="api_token_use",
        outcome=Outcome.FAILURE,
        user=token.user,
        resource_type="token",
        resource_id=token.lookup_id,
        message=message,
        metadata={"reason": reason, "name": token.name},
    )
    return ApiTokenRefused(message, reason=reason)


def api_token_authenticate(*, text: str, ip_address: str | None) -> ApiToken:
    """Return the live token a request presents, its owner loaded; refuse anything else.

    The owner's permissions are read afresh on every request (a new User instance), so
    a permission taken away from the owner is taken away from the token at once.
    """
    parsed = parse(text)
    if parsed is None:
        raise ApiTokenRefused("Malformed API token.", reason="malformed")
    token = ApiToken.objects.select_related("user").filter(lookup_id=parsed.lookup_id).first()
    if token is None:
        raise ApiTokenRefused("Unknown API token.", reason="unknown")
    # Constant time: the stored hash must not leak, byte by byte, through response timing.
    if not hmac.compare_digest(token.secret_hash, secret_hash(parsed.text)):
        # Right id, wrong secret: someone who saw the id (it is listed) is guessing.
        raise _refuse(token, reason="mismatch", message="Unknown API token.")
    now = timezone.now()
    if token.revoked_at is not None:
        raise _refuse(token, reason="revoked", message="API token was revoked.")
    if token.expires_at <= now:
        raise _refuse(
            token,
            reason="expired",
            message=f"API token expired at {token.expires_at:%Y-%m-%dT%H:%M:%SZ}.",
        )
    if not token.user.is_active:
        raise _refuse(token, reason="inactive", message="The API token's account is disabled.")
    _note_use(token, ip_address=ip_address, now=now)
    return token


def _note_use(token: ApiToken, *, ip_address: str | None, now) -> None:
    """Keep last-used time and address; audit the first use from an address not seen."""
    known = ip_address == token.last_used_ip or (
        ApiTokenAddress.objects.filter(token=token, ip_address=ip_address).exists()
    )
    if ip_address and not known:
        try:
            with transaction.atomic():
                ApiTokenAddress.objects.create(
                    token=token, ip_address=ip_address, first_used_at=now
                )
                record_event(
                    event_type="api_token_use",
                    user=token.user,
                    resource_type="token",
                    resource_id=token.lookup_id,
                    message=f"API token {token.lookup_id} used from a new address",
                    metadata={"name": token.name, "new_address": ip_address},
                )
        except IntegrityError:
            # Seen before (or by a parallel request that recorded it): not new.
            pass
    stale = token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION
    if stale or ip_address != token.last_used_ip:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now, last_used_ip=ip_address)
        token.last_used_at, token.last_used_ip = now, ip_address


def service_account_create(*, username: str, description: str = "") -> User:
    """Create a user that is a machine: no usable password, no permissions, marked as such.

    Its permissions are given like anyone's (groups, the admin); its tokens carry them.
    """
    User = get_user_model()
    username = username.strip()
    if not username or User.objects.filter(username=username).exists():
        raise ApiTokenError(f"The username {username!r} is empty or taken.", field="username")
    with transaction.atomic():
        user = User(username=username)
        user.set_unusable_password()
        # save() fires post_save: user_create is recorded by accounts.account_audit.
        user.save()
        ServiceAccount.objects.create(user=user, description=description[:200])
    return user
