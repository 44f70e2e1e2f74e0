"""Read accounts."""

from django.contrib.auth import get_user_model
from django.db.models import QuerySet


def user_list() -> QuerySet:
    """Return all users, oldest account first."""
    return get_user_model().objects.order_by("id")
