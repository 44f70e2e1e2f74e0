"""The project's admin site: Django's, with the staff dashboard and the audit log's short address.

Installed through OcrAdminConfig.default_site (ocr_project/apps.py), so `admin.site`,
and every `@admin.register` in the apps, is this site. Extra pages join through
get_urls, Django's documented way, ahead of the admin's own catch-all patterns.
"""

from functools import partial

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.urls import URLPattern, URLResolver, path
from django.utils.translation import gettext_lazy as _
from django.views.generic import RedirectView

from accounts.views import locked_now_context
from audit.dashboard.views import dashboard


class OcrAdminSite(admin.AdminSite):
    site_header = _("OCR service administration")
    site_title = _("OCR service admin")

    def login(self, request, extra_context=None):
        # A signed-in user without admin access gets the site's 403 page, not a login form
        # that invites them to sign in as someone else; anonymous visitors still sign in.
        if request.user.is_authenticated and not self.has_permission(request):
            raise PermissionDenied
        return super().login(request, extra_context)

    def get_urls(self) -> list[URLResolver | URLPattern]:
        # The audit app's page, with the accounts app's lockouts (admin/dashboard.html).
        staff_dashboard = partial(
            dashboard, template_name="admin/dashboard.html", extra_context=locked_now_context
        )
        # The address people type for the audit log; the changelist checks the permission.
        audit_log = RedirectView.as_view(
            pattern_name="admin:audit_auditevent_changelist", permanent=False, query_string=True
        )
        return [
            path("dashboard/", self.admin_view(staff_dashboard), name="dashboard"),
            path("audit-logs", audit_log, name="audit-logs"),
            path("audit-logs/", audit_log),
            *super().get_urls(),
        ]
