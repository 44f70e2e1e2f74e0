"""The project's settings plus django-auditlog, set up as its documentation suggests.

Every model is registered (AUDITLOG_INCLUDE_ALL_MODELS): a user who picks auditlog
instead of this project's trail wants logins (User.last_login) and token rows logged.
"""

from bench.peers.project import *  # noqa: F403
from bench.peers.project import INSTALLED_APPS, MIDDLEWARE

INSTALLED_APPS = [*INSTALLED_APPS, "auditlog"]
# After AuthenticationMiddleware, which auditlog's reads the actor from.
_AUTH = MIDDLEWARE.index("django.contrib.auth.middleware.AuthenticationMiddleware")
MIDDLEWARE = [
    *MIDDLEWARE[: _AUTH + 1],
    "auditlog.middleware.AuditlogMiddleware",
    *MIDDLEWARE[_AUTH + 1 :],
]
AUDITLOG_INCLUDE_ALL_MODELS = True
# The project's own trail is switched off in this configuration (logging its rows would
# measure the project again); sessions (the project's own session model too) hold
# secrets and change on every request, and nobody logs them.
AUDITLOG_EXCLUDE_TRACKING_MODELS = ("audit", "sessions", "accounts.UserSession")
