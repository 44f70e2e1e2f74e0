"""Read API tokens."""

from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.http import Http404

from ..models import ApiToken


def api_tokens_of(user: User) -> QuerySet[ApiToken]:
    """Return the user's tokens, live and ended, newest first."""
    return ApiToken.objects.filter(user=user).select_related("user").order_by("-created_at", "-pk")


def api_token_of(user: User, lookup_id: str) -> ApiToken:
    """Return one of the user's tokens; another user's is 404 like a missing one."""
    token = api_tokens_of(user).filter(lookup_id=lookup_id).first()
    if token is None:
        raise Http404("No API token of yours with this id.")
    return token
