"""Gate endpoints without a Django permission (the task API) by the token's scopes."""

from rest_framework.permissions import SAFE_METHODS, BasePermission

from ..models import ApiToken
from .scopes import SCOPES


class TokenScopePermission(BasePermission):
    """Let an API token through only where the view names the scope it holds.

    Sessions and JWTs pass untouched. A view names its scopes with ``token_scopes``,
    {"read": ..., "write": ...} for safe and unsafe methods; a view naming none refuses
    every token (log out, the token list itself): a token opens what was decided, not
    whatever an endpoint forgot to close. Staff endpoints use HasDjangoPermission, which
    asks the token about its Django permission instead (ApiToken.has_perm).
    """

    def has_permission(self, request, view) -> bool:
        token = request.auth
        if not isinstance(token, ApiToken):
            return True
        scopes = getattr(view, "token_scopes", None)
        if not scopes:
            self.message = "API tokens cannot use this endpoint."
            return False
        needed = scopes["read" if request.method in SAFE_METHODS else "write"]
        if needed not in SCOPES:
            raise ValueError(f"{type(view).__name__} names an unknown scope {needed!r}")
        if needed not in token.scopes:
            self.message = f"The API token lacks the scope {needed}."
            return False
        return True
