"""The password backend: Django's ModelBackend, which never lets a service account in."""

from django.contrib.auth.backends import ModelBackend

from .models import ServiceAccount


class PasswordBackend(ModelBackend):
    """Refuse a password login to service accounts, on every surface that asks Django.

    The login page, the admin and the JWT login all call authenticate(), which asks
    this; a machine's only credential is its API tokens, so a password set on it by
    mistake (or by an attacker with the admin) opens nothing. Permissions are read as
    ModelBackend reads them, so a service account's tokens still carry its groups.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        user = super().authenticate(request, username=username, password=password, **kwargs)
        # Asked after the password check, not in user_can_authenticate: that also runs on
        # every session request (get_user), and sessions need no extra query.
        if user is not None and ServiceAccount.objects.filter(user_id=user.pk).exists():
            return None
        return user
