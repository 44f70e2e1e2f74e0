"""Django admin for users (listing them is an audited staff action) and their API tokens."""

from axes.admin import AccessAttemptAdmin as AxesAccessAttemptAdmin
from axes.models import AccessAttempt
from django.contrib import admin, messages
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from rest_framework_simplejwt.token_blacklist import admin as token_blacklist_admin
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

from audit.admin.audited import AuditedChangelistAdmin
from audit.events import Outcome
from audit.services import record_event

from .api_tokens.admin import ApiTokenAdmin
from .models import ApiToken
from .services import UNLOCK_PERMISSION, account_unlock

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
                resource_type="user",
                resource_id=user.pk,
                message="Admin login refused: account is not staff",
                metadata={"method": "admin", "reason": "not_staff"},
            )
            raise


admin.site.login_form = AuditedAdminAuthenticationForm


@admin.register(User)
class AuditedUserAdmin(AuditedChangelistAdmin, UserAdmin):
    show_full_result_count = False
    # Listing users is a staff action on personal data: recorded.
    changelist_event = "admin_view_users"
    changelist_resource_type = "user"


# django-axes' attempt records: lifting a lockout here is recorded like on the dashboard.
if AccessAttempt in admin.site._registry:
    admin.site.unregister(AccessAttempt)


@admin.register(AccessAttempt)
class UnlockingAccessAttemptAdmin(AxesAccessAttemptAdmin):
    """django-axes' attempt list, whose only way to clear attempts records auth_unlock."""

    actions = ["unlock"]

    def get_actions(self, request, action_location=admin.ActionLocation.CHANGE_LIST):
        actions = super().get_actions(request, action_location=action_location)
        # Bulk delete would lift lockouts without a trace in the audit trail.
        actions.pop("delete_selected", None)
        return actions

    def has_delete_permission(self, request, obj=None) -> bool:
        # One by one it would be the same untraced unlock; the action does it audited.
        return False

    @admin.action(description=_("Unlock the selected username + address pairs"))
    def unlock(self, request, queryset):
        if not request.user.has_perm(UNLOCK_PERMISSION):
            raise PermissionDenied
        pairs = set(queryset.values_list("username", "ip_address"))
        for username, ip_address in sorted(pairs, key=lambda pair: (pair[0] or "", pair[1] or "")):
            account_unlock(username=username or "", ip_address=ip_address, actor=request.user)
        self.message_user(
            request,
            ngettext("Unlocked %(count)d pair.", "Unlocked %(count)d pairs.", len(pairs))
            % {"count": len(pairs)},
            messages.SUCCESS,
        )


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


admin.site.register(ApiToken, ApiTokenAdmin)
