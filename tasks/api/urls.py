from django.urls import path

from . import views as api

urlpatterns = [
    path("tasks", api.TaskListCreateApi.as_view(), name="api-tasks"),
    path("tasks/<uuid:task_id>", api.TaskDetailApi.as_view(), name="api-task-detail"),
    path("tasks/<uuid:task_id>/result", api.TaskResultApi.as_view(), name="api-task-result"),
    path("tasks/<uuid:task_id>/retry", api.TaskRetryApi.as_view(), name="api-task-retry"),
    path("admin/cleanup", api.CleanupApi.as_view(), name="api-admin-cleanup"),
]
