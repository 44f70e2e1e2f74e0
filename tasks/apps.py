from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TasksConfig(AppConfig):
    name = "tasks"
    verbose_name = _("OCR tasks")

    def ready(self) -> None:
        from . import checks, receivers  # noqa: F401  (registers checks and receivers)
