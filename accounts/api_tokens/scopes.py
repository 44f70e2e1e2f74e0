"""What each token scope opens: Django permissions, or an app's own endpoints by method.

A scope never grants anything by itself. A staff endpoint asks its Django permission of
the token's owner (HasDjangoPermission) and, when the credential is a token, whether one
of the token's scopes covers that permission: the token can do what both allow. The task
endpoints check no Django permission (a user sees only their own tasks), so there the
scope is the whole gate: `tasks:read` for reading, `tasks:write` for changing them.
"""

from dataclasses import dataclass

from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from django_stubs_ext import StrOrPromise


@dataclass(frozen=True)
class Scope:
    name: str
    description: StrOrPromise
    # Django permissions the scope covers ("app_label.codename").
    permissions: frozenset[str] = frozenset()


SCOPES: dict[str, Scope] = {
    scope.name: scope
    for scope in (
        Scope(
            "audit:read",
            _("Read and export the audit trail and its proofs"),
            frozenset({"audit.view_auditevent"}),
        ),
        Scope("users:read", _("List user accounts"), frozenset({"auth.view_user"})),
        Scope("tasks:read", _("List and download the owner's OCR tasks")),
        Scope("tasks:write", _("Upload, retry and delete the owner's OCR tasks")),
        Scope(
            "tasks:cleanup",
            _("Delete old tasks of every user (the staff cleanup)"),
            frozenset({"tasks.delete_ocrtask"}),
        ),
    )
}

# Lazy: an f-string here would fix the descriptions in English when the module is imported.
SCOPE_CHOICES = [
    (
        scope.name,
        format_lazy("{name} — {description}", name=scope.name, description=scope.description),
    )
    for scope in SCOPES.values()
]


def unknown_scopes(names: list[str]) -> list[str]:
    """Return the names that are not scopes, in the order given."""
    return [name for name in names if name not in SCOPES]


def scopes_covering(permission: str) -> list[str]:
    """Return the scopes that cover a Django permission (none: no token reaches it)."""
    return [scope.name for scope in SCOPES.values() if permission in scope.permissions]
