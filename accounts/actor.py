"""Who is changing an account: the signed-in staff member, the user, a command or a shell."""

import getpass
import os
import sys
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import User
from django.http import HttpRequest

from audit.recording.client import current_request


@dataclass(frozen=True)
class Actor:
    """The account that acted (None outside a request) and how it got there."""

    user: User | None
    details: dict[str, Any] = field(default_factory=dict)

    def by(self, subject: User) -> str:
        """Return "self", "staff", "command" or "shell" for a change made to ``subject``."""
        if self.user is not None:
            return "self" if self.user.pk == subject.pk else "staff"
        return self.details["via"]


def request_surface(request: HttpRequest) -> str:
    """Return the surface a request came through: admin, api or page."""
    match = getattr(request, "resolver_match", None)
    if match is not None and match.namespace == "admin":
        return "admin"
    return "api" if request.path.startswith("/api/") else "page"


def os_account() -> str:
    """Return the operating-system account running this process, as far as it says."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers) and no LOGNAME
        return str(os.getuid()) if hasattr(os, "getuid") else ""


def current_actor() -> Actor:
    """Return who is acting now.

    Inside a request, its signed-in user (anonymous for a sign-up or a password reset).
    Outside one the change came from `manage.py <command>` or from code run by hand (a
    shell, a script): said so explicitly, with the operating-system account, because a
    blank actor would read as "nobody did this".
    """
    request = current_request.get()
    if request is not None:
        user = getattr(request, "user", None)
        signed_in = user if user is not None and user.is_authenticated else None
        return Actor(signed_in, {"via": request_surface(request)})
    argv = sys.argv
    command = argv[1] if len(argv) > 1 and os.path.basename(argv[0]) == "manage.py" else ""
    if command and command not in ("shell", "dbshell", "shell_plus"):
        details = {"via": "command", "command": command[:64]}
    else:
        details = {"via": "shell"}
    return Actor(None, {**details, "os_user": os_account()[:64]})
