import axes.apps
import django_tasks_db.apps
from django.contrib.admin.apps import AdminConfig
from django.utils.translation import gettext_lazy as _


class OcrAdminConfig(AdminConfig):
    """django.contrib.admin, serving the project's site (Django's documented override)."""

    default_site = "ocr_project.admin.OcrAdminSite"


# Third-party apps named in the admin in the visitor's language: their own configs name
# them in English only ("Axes", "Tasks Database Backend"). Same app labels and models.
class AxesConfig(axes.apps.AppConfig):
    verbose_name = _("Sign-in lockouts")


class TasksDatabaseConfig(django_tasks_db.apps.TasksAppConfig):
    # The library declares a plain str; a lazy one is what Django's AppConfig takes.
    verbose_name = _("Background jobs")  # type: ignore[assignment]
