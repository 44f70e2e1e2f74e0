from django.apps import AppConfig


class TasksConfig(AppConfig):
    name = "tasks"
    verbose_name = "OCR tasks"

    def ready(self) -> None:
        from . import checks, receivers  # noqa: F401  (registers checks and receivers)
