"""Start-up checks for audit configuration mistakes."""

from django.conf import settings
from django.core.checks import Error, Warning, register

from .chain import ChainKeyError, parse_key_ring


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


@register()
def check_chain_keys(app_configs, **kwargs):
    try:
        ring = parse_key_ring(getattr(settings, "AUDIT_CHAIN_KEYS", "") or "")
    except ChainKeyError as error:
        return [Error(f"AUDIT_CHAIN_KEYS cannot be read: {error}.", id="audit.E004")]
    # The chain key must be a secret of its own: SECRET_KEY signs sessions and tokens
    # handed to every browser, and a key shared with them widens who could forge links.
    secrets = {settings.SECRET_KEY, getattr(settings, "AUDIT_SIGNING_KEY", "")}
    errors = []
    for key_id, key in ring.keys.items():
        if key.secret in secrets:
            errors.append(
                Error(
                    f"Chain key {key_id!r} in AUDIT_CHAIN_KEYS equals SECRET_KEY or "
                    "AUDIT_SIGNING_KEY.",
                    hint="Generate a separate key; keep the old one in the ring to verify.",
                    id="audit.E005",
                )
            )
    return errors
