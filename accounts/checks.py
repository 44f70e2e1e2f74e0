"""Refuse to start with settings that silently weaken authentication."""

from django.conf import settings
from django.core.checks import Error, register


@register()
def check_token_blacklist(app_configs, **kwargs):
    errors = []
    # Without this app simplejwt skips blacklisting without a word: logout and
    # refresh-token rotation would then leave old tokens working.
    if "rest_framework_simplejwt.token_blacklist" not in settings.INSTALLED_APPS:
        errors.append(
            Error(
                "rest_framework_simplejwt.token_blacklist is not installed.",
                hint="Add it to INSTALLED_APPS; logout and token rotation depend on it.",
                id="accounts.E001",
            )
        )
    jwt = getattr(settings, "SIMPLE_JWT", {})
    if not (jwt.get("ROTATE_REFRESH_TOKENS") and jwt.get("BLACKLIST_AFTER_ROTATION")):
        errors.append(
            Error(
                "SIMPLE_JWT must rotate refresh tokens and blacklist them after rotation.",
                id="accounts.E002",
            )
        )
    return errors


@register()
def check_api_token_lifetime(app_configs, **kwargs):
    # Every API token must end; a maximum below a day would refuse every token.
    maximum = getattr(settings, "API_TOKEN_MAX_DAYS", 0)
    if not isinstance(maximum, int) or maximum < 1:
        return [
            Error(
                f"API_TOKEN_MAX_DAYS must be a whole number of days, at least 1 (got {maximum!r}).",
                id="accounts.E003",
            )
        ]
    return []
