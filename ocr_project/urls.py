"""URL wiring: pages, the v2 API, the admin and the API docs."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

admin.site.site_header = "OCR service administration"
admin.site.site_title = "OCR service admin"

api_v2 = [
    path("", include("accounts.api_urls")),
    path("", include("audit.urls")),
    path("", include("tasks.api_urls")),
]

urlpatterns = [
    path("", include("tasks.urls")),
    path("accounts/", include("accounts.urls")),
    path("admin/", admin.site.urls),
    path("api/v2/", include(api_v2)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("i18n/", include("django.conf.urls.i18n")),
]
