"""The project's settings plus django-easy-audit with its defaults: auth, model, request events."""

from bench.peers.project import *  # noqa: F403
from bench.peers.project import INSTALLED_APPS, MIDDLEWARE

INSTALLED_APPS = [*INSTALLED_APPS, "easyaudit"]
MIDDLEWARE = [*MIDDLEWARE, "easyaudit.middleware.easyaudit.EasyAuditMiddleware"]
# The project's own trail is switched off in this configuration (logging its rows would
# measure the project again); the project's session model is left out as easy-audit
# leaves out Django's own.
DJANGO_EASY_AUDIT_UNREGISTERED_CLASSES_EXTRA = ["audit.AuditEvent", "accounts.UserSession"]
