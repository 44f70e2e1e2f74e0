"""One permission rule for every staff surface: Django's has_perm, asked the same way everywhere."""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from rest_framework.permissions import BasePermission


class HasDjangoPermission(BasePermission):
    """Allow a signed-in user holding the view's ``required_permission`` (superusers hold all).

    The admin asks the same has_perm through ModelAdmin.has_*_permission, and pages
    through ``staff_page``: one rule, so a staff account without the permission reads
    nothing through any door.
    """

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        allowed = user.has_perm(view.required_permission)
        # A credential narrower than its owner (an API token and its scopes) is asked too:
        # it may do what both its owner and it may, so never more than the owner.
        credential: Any = getattr(request, "auth", None)
        if allowed and callable(getattr(credential, "has_perm", None)):
            allowed = credential.has_perm(view.required_permission)
            if not allowed:
                self.message = credential.refusal_message(view.required_permission)
        if not allowed:
            # Read by AccessDeniedMiddleware, which records the refusal.
            request._request.audit_required_permission = view.required_permission
        return allowed


def staff_page(permission: str) -> Callable:
    """Guard an admin-side page: staff sign-in (as the admin asks), then the permission.

    Anonymous and non-staff visitors go to the admin login, like every admin page; a
    staff member without the permission gets 403 (and an access_denied event).
    """

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        checked = permission_required(permission, raise_exception=True)(view)

        @wraps(view)
        def guarded(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            # Named in the access_denied event if the check refuses (a 403).
            # A marker for AuditAccessMiddleware on this request, which Django's type lacks.
            request.audit_required_permission = permission  # type: ignore[attr-defined]
            return checked(request, *args, **kwargs)

        return staff_member_required(guarded)

    return decorator
