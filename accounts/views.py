"""Server-rendered account pages: the parts Django's auth views do not cover."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import AnonymousUser
from django.http import HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from .http import AuthenticatedHttpRequest
from .services import logout_everywhere


@require_POST
@login_required
def logout_all(request: AuthenticatedHttpRequest) -> HttpResponse:
    """End this user's sessions on every device and revoke all their API tokens."""
    stats = logout_everywhere(request=request, user=request.user, method="session")
    # The current session was among those deleted; drop it from this request without
    # Django's logout(), which would record a second, single-session logout.
    request.session.flush()
    request.user = AnonymousUser()  # type: ignore[assignment]  # signed out from here on
    messages.success(
        request,
        _("Logged out of %(sessions)d session(s); %(tokens)d API token(s) revoked.")
        % {"sessions": stats["sessions_ended"], "tokens": stats["tokens_revoked"]},
    )
    return redirect("accounts:login")
