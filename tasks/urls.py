from django.urls import path

from .web import bulk_views, list_views, task_views

app_name = "tasks"

urlpatterns = [
    path("", list_views.task_list, name="list"),
    path("tasks/upload/", list_views.task_upload, name="upload"),
    path("tasks/rows/", list_views.task_rows, name="rows"),
    path("tasks/progress/", list_views.task_progress, name="progress"),
    path("tasks/delete/", bulk_views.task_bulk_delete_view, name="bulk_delete"),
    path("tasks/rerun/", bulk_views.task_bulk_rerun_view, name="bulk_rerun"),
    path("tasks/download/", bulk_views.task_bulk_download_view, name="bulk_download"),
    path("tasks/<uuid:task_id>/", task_views.task_detail, name="detail"),
    path(
        "tasks/<uuid:task_id>/pages/<int:number>.png", task_views.task_page_image, name="page_image"
    ),
    path("tasks/<uuid:task_id>/thumbnail.png", task_views.task_thumbnail_view, name="thumbnail"),
    path("tasks/<uuid:task_id>/download.<str:fmt>", task_views.task_download, name="download"),
    path("tasks/<uuid:task_id>/original/", task_views.task_original, name="original"),
    path("tasks/<uuid:task_id>/retry/", task_views.task_retry_view, name="retry"),
    path("tasks/<uuid:task_id>/rerun/", task_views.task_rerun_view, name="rerun"),
    path("tasks/<uuid:task_id>/delete/", task_views.task_delete_view, name="delete"),
]
