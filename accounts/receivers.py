"""Audit Django's own authentication signals (the project does not own these actions)."""

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from audit.events import Outcome
from audit.services import record_event

from .login_surface import login_surface


@receiver(user_logged_in, dispatch_uid="audit_user_logged_in")
def audit_login(sender, request, user, **kwargs) -> None:
    record_event(
        event_type="auth_login",
        user=user,
        resource_type="user",
        resource_id=user.pk,
        metadata={"method": login_surface(request)},
    )


@receiver(user_logged_out, dispatch_uid="audit_user_logged_out")
def audit_logout(sender, request, user, **kwargs) -> None:
    if user is None:
        # Logging out without a session ends nothing; there is no one to record.
        return
    record_event(
        event_type="auth_logout",
        user=user,
        resource_type="user",
        resource_id=user.pk,
        metadata={"method": login_surface(request), "scope": "session", "sessions_ended": 1},
    )


@receiver(user_login_failed, dispatch_uid="audit_user_login_failed")
def audit_login_failed(sender, credentials, request=None, **kwargs) -> None:
    # Django has already masked the password in `credentials`; only the attempted
    # username is kept, and record_event escapes it.
    attempted = str(credentials.get("username", ""))
    # Refused by django-axes before any password check. The failure that reaches the
    # limit was a wrong password: axes counted it (failures set) and then locked.
    locked = bool(getattr(request, "axes_locked_out", False)) and (
        getattr(request, "axes_failures_since_start", None) is None
    )
    record_event(
        event_type="auth_login",
        outcome=Outcome.FAILURE,
        username=attempted,
        resource_type="user",
        message="Login refused: locked out" if locked else "Login refused: invalid credentials",
        metadata={
            "method": login_surface(request),
            "reason": "locked_out" if locked else "invalid_credentials",
        },
    )


@receiver(user_locked_out, dispatch_uid="audit_user_locked_out")
def audit_lockout(sender, request, username, ip_address, **kwargs) -> None:
    # django-axes sends this both when it locks and on each refused attempt after;
    # only the first carries a failure count.
    if getattr(request, "axes_failures_since_start", None) is None:
        return
    record_event(
        event_type="auth_lockout",
        outcome=Outcome.FAILURE,
        username=username or "",
        resource_type="user",
        message="Too many failed logins: username locked out from this address",
        metadata={
            "method": login_surface(request),
            "failures": request.axes_failures_since_start,
        },
    )
