"""easyaudit-changelist only: the service's settings plus django-easy-audit 1.3.9, watching nothing.

Used by the bench with the throwaway var/venv-easyaudit interpreter; easy-audit is
never a dependency of the service. Its signal handlers are switched off so the one
thing measured is its LoginEvent admin changelist over the seeded rows.
"""

from ocr_project.settings import *  # noqa: F403
from ocr_project.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "easyaudit"]
ROOT_URLCONF = "bench.urls"
DJANGO_EASY_AUDIT_WATCH_AUTH_EVENTS = False
DJANGO_EASY_AUDIT_WATCH_MODEL_EVENTS = False
DJANGO_EASY_AUDIT_WATCH_REQUEST_EVENTS = False
