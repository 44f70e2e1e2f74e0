from django.urls import path

from . import api

urlpatterns = [
    path("admin/audit-logs", api.AuditLogListApi.as_view(), name="api-admin-audit-logs"),
]
