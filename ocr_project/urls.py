"""URL wiring: pages, the v2 API, the admin, the API docs and the health check."""

from typing import Any

from django.conf import settings
from django.contrib import admin
from django.http import HttpResponseRedirect
from django.templatetags.static import static
from django.urls import include, path
from django.utils.csp import CSP
from django.views.decorators.csp import csp_override
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from audit.api.well_known import audit_log_key
from ocr_project.health import healthz
from tasks.web.help import help_page

# Swagger UI positions its widgets with style="" attributes; only its page may use them.
# Scripts stay 'self'-only: the UI and its start-up script are served as files.
swagger_csp: dict[str, Any] = {**settings.SECURE_CSP, "style-src": [CSP.SELF, CSP.UNSAFE_INLINE]}
swagger_view = csp_override(swagger_csp)(SpectacularSwaggerSplitView.as_view(url_name="api-schema"))


def favicon(request):
    """Send browsers that ask for /favicon.ico (admin and API pages name no icon) to ours."""
    # Resolved per request and not permanent: the static URL carries the file's hash.
    return HttpResponseRedirect(static("favicon.svg"))


api_v2 = [
    path("", include("accounts.api_urls")),
    path("", include("audit.urls")),
    path("", include("tasks.api.urls")),
]

handler403 = "ocr_project.error_pages.permission_denied"
handler404 = "ocr_project.error_pages.page_not_found"
handler500 = "ocr_project.error_pages.server_error"

urlpatterns = [
    path("", include("tasks.urls")),
    path("accounts/", include("accounts.urls")),
    # What a first-time user needs (files, engines, search, downloads, shortcuts); public,
    # so the header links to it for all.
    path("help/", help_page, name="help"),
    # The project's site (ocr_project/admin.py): the staff dashboard is among its pages.
    path("admin/", admin.site.urls),
    path("api/v2/", include(api_v2)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", swagger_view, name="api-docs"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("favicon.ico", favicon),
    # For load balancers and systemd watchers; not in the OpenAPI schema, which documents
    # the API only (no page is in it either). Exempt from SECURE_SSL_REDIRECT (settings).
    path("healthz", healthz, name="healthz"),
    # The public key an auditor checks the trail's signed checkpoints with (README,
    # Tamper evidence); public and not in the API schema, like /healthz.
    path(".well-known/audit-log-key", audit_log_key, name="audit-log-key"),
]
