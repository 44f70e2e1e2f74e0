"""Server-rendered account pages: the parts Django's auth views do not cover."""

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import permission_required
from django.contrib.auth.models import AnonymousUser
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from audit.recording.client import client_ip

from .decorators import login_required_for_forms
from .http import AuthenticatedHttpRequest
from .selectors import attempts_left, locked_accounts
from .services import UNLOCK_PERMISSION, account_unlock, logout_everywhere


@require_POST
@login_required_for_forms
def logout_all(request: AuthenticatedHttpRequest) -> HttpResponse:
    """End this user's sessions on every device and revoke all their API tokens."""
    stats = logout_everywhere(user=request.user, method="session")
    # The current session was among those deleted; drop it from this request without
    # Django's logout(), which would record a second, single-session logout.
    request.session.flush()
    request.user = AnonymousUser()  # type: ignore[assignment]  # signed out from here on
    messages.success(
        request,
        " ".join(
            (
                ngettext(
                    "Logged out of %(count)d session.",
                    "Logged out of %(count)d sessions.",
                    stats["sessions_ended"],
                )
                % {"count": stats["sessions_ended"]},
                ngettext(
                    "%(count)d API token revoked.",
                    "%(count)d API tokens revoked.",
                    stats["tokens_revoked"],
                )
                % {"count": stats["tokens_revoked"]},
            )
        ),
    )
    return redirect("accounts:login")


class LogoutView(auth_views.LogoutView):
    """Django's logout, which then says so: the login page alone reads as nothing done."""

    def post(self, request, *args, **kwargs):
        was_signed_in = request.user.is_authenticated
        response = super().post(request, *args, **kwargs)
        # After logout() flushed the session: the message goes with the new, anonymous one.
        if was_signed_in:
            messages.success(request, _("You are logged out on this device."))
        return response


class UnlockForm(forms.Form):
    username = forms.CharField(max_length=255)
    ip_address = forms.GenericIPAddressField(required=False, unpack_ipv4=True)


@require_POST
@staff_member_required
@permission_required(UNLOCK_PERMISSION, raise_exception=True)
def unlock_account(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Lift a login lockout (username, optionally one address); back to the dashboard."""
    form = UnlockForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Nothing unlocked: give a username (and a valid IP address)."))
        return redirect("admin:dashboard")
    username = form.cleaned_data["username"]
    ip_address = form.cleaned_data["ip_address"] or None
    account_unlock(username=username, ip_address=ip_address, actor=request.user)
    messages.success(request, _("%(username)s can log in again.") % {"username": username})
    return redirect(f"{reverse('admin:dashboard')}#locked-now")


def locked_now_context(request: HttpRequest) -> dict[str, object]:
    """Return the staff dashboard's "Locked now" figures (accounts/locked_now.html)."""
    return {
        "locked_now": locked_accounts(),
        "can_unlock": request.user.has_perm(UNLOCK_PERMISSION),
    }


# Warned this many wrong passwords before the lock, not at every one.
WARN_WHEN_LEFT = 2


class LoginView(auth_views.LoginView):
    """Django's login page, warning before the lockout that the next failures cause.

    Shown after a wrong password for any username, known or not, from axes' count for
    the username + address pair, so it tells nothing about which accounts exist.
    """

    template_name = "accounts/login.html"
    redirect_authenticated_user = True

    def form_valid(self, form):
        # The sign-in commits as one: the new session row, last_login and the audit event
        # together or not at all, one durable commit instead of one for each write.
        with transaction.atomic():
            return super().form_valid(form)

    def form_invalid(self, form):
        response = super().form_invalid(form)
        left = attempts_left(
            username=str(form.data.get("username", "")), ip_address=client_ip(self.request)
        )
        if left is not None and 0 < left <= WARN_WHEN_LEFT:
            response.context_data["attempts_left"] = left
            response.context_data["cool_off_minutes"] = int(
                settings.AXES_COOLOFF_TIME.total_seconds() // 60
            )
        return response
