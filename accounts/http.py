"""The request a signed-in user makes, for type checking views behind login_required."""

from django.contrib.auth.models import User
from django.http import HttpRequest


class AuthenticatedHttpRequest(HttpRequest):
    """An HttpRequest whose user is signed in (login_required has let it through)."""

    user: User
