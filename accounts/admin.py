"""Django admin for users: listing them is an audited staff action."""

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

from audit.services import record_event

User = get_user_model()
admin.site.unregister(User)


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
