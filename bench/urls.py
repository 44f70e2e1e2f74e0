"""URLconf of the bench process: the service's URLs plus the audit-api-counted-pages view."""

from django.urls import path

from bench.paged_api import PagedAuditLogListApi
from ocr_project.urls import urlpatterns as service_urlpatterns

urlpatterns = [
    path("bench/audit-logs-paged", PagedAuditLogListApi.as_view(), name="bench-audit-paged"),
    *service_urlpatterns,
]
