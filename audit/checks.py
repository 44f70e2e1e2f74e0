"""Start-up checks for audit configuration mistakes."""

from django.conf import settings
from django.core.checks import Error, Warning, register


@register()
def check_proxy_count(app_configs, **kwargs):
    errors = []
    count = getattr(settings, "TRUSTED_PROXY_COUNT", 0)
    if not isinstance(count, int) or count < 0:
        errors.append(
            Error(
                "TRUSTED_PROXY_COUNT must be a non-negative integer.",
                id="audit.E001",
            )
        )
    elif count > 5:
        errors.append(
            Warning(
                f"TRUSTED_PROXY_COUNT is {count}; more than 5 proxies is unusual.",
                hint="Set it to the number of reverse proxies that append X-Forwarded-For.",
                id="audit.W001",
            )
        )
    key = getattr(settings, "AUDIT_SIGNING_KEY", "")
    if not key or len(key) < 32:
        errors.append(Error("AUDIT_SIGNING_KEY must be at least 32 characters.", id="audit.E002"))
    elif key == settings.SECRET_KEY:
        errors.append(
            Error(
                "AUDIT_SIGNING_KEY must differ from SECRET_KEY.",
                hint="Checkpoints must stay verifiable when SECRET_KEY is rotated.",
                id="audit.E003",
            )
        )
    return errors
