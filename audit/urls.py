from django.urls import path

from .api import log as log_api
from .api import views as api

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
    path(
        "audit-log/checkpoint",
        log_api.LatestCheckpointApi.as_view(),
        name="api-audit-log-checkpoint",
    ),
    path(
        "audit-log/consistency",
        log_api.PublicConsistencyProofApi.as_view(),
        name="api-audit-log-consistency",
    ),
    path(
        "audit-log/cosignatures",
        log_api.CosignatureApi.as_view(),
        name="api-audit-log-cosignatures",
    ),
]
