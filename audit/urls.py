from django.urls import path

from . import api

urlpatterns = [
    path("admin/audit-logs", api.AuditLogListApi.as_view(), name="api-admin-audit-logs"),
    path(
        "admin/audit-logs/consistency",
        api.AuditConsistencyProofApi.as_view(),
        name="api-admin-audit-logs-consistency",
    ),
    path(
        "admin/audit-logs/<int:event_id>/proof",
        api.AuditEventProofApi.as_view(),
        name="api-admin-audit-logs-proof",
    ),
]
