"""Django admin for users (listing them is an audited staff action) and their API tokens."""

from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import ValidationError
from rest_framework_simplejwt.token_blacklist import admin as token_blacklist_admin
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

from audit.events import Outcome
from audit.services import record_event

User = get_user_model()
admin.site.unregister(User)


class AuditedAdminAuthenticationForm(AdminAuthenticationForm):
    """The admin login form; a right password from a non-staff account is a refusal too."""

    def confirm_login_allowed(self, user) -> None:
        try:
            super().confirm_login_allowed(user)
        except ValidationError:
            # Django sends no signal here: the password was right, the door is wrong.
            record_event(
                event_type="auth_login",
                outcome=Outcome.FAILURE,
                user=user,
                request=self.request,
                resource_type="user",
                resource_id=user.pk,
                message="Admin login refused: account is not staff",
                metadata={"method": "admin", "reason": "not_staff"},
            )
            raise


admin.site.login_form = AuditedAdminAuthenticationForm


@admin.register(User)
class AuditedUserAdmin(UserAdmin):
    show_full_result_count = False

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        if request.method == "GET" and getattr(response, "status_code", 200) == 200:
            record_event(
                event_type="admin_view_users",
                user=request.user,
                request=request,
                resource_type="user",
                metadata={"surface": "admin", "filters": dict(request.GET.items())},
            )
        return response


admin.site.unregister(OutstandingToken)


@admin.register(OutstandingToken)
class OutstandingTokenAdmin(token_blacklist_admin.OutstandingTokenAdmin):
    """Refresh tokens by owner, jti and expiry; never the token itself.

    A live refresh token is its owner's API access: shown on this page it would turn the
    view permission into signing in as anyone listed, superusers included.
    """

    exclude = ("token",)

    def get_readonly_fields(self, request, obj=None) -> list[str]:
        return [name for name in super().get_readonly_fields(request, obj) if name != "token"]
