from django.contrib.admin.apps import AdminConfig


class OcrAdminConfig(AdminConfig):
    """django.contrib.admin, serving the project's site (Django's documented override)."""

    default_site = "ocr_project.admin.OcrAdminSite"
