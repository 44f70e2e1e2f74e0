"""Start-up checks for audit configuration mistakes."""

from django.conf import settings
from django.core.checks import Error, Warning, register

from .chain import ChainKeyError, parse_key_ring
from .siem.sinks import parse_stream_setting
from .siem.streamer import FORMATS
from .transparency.verifier.signed_note import NoteError
from .transparency.verifier.tlog_cosignature import CosignerVerifier

# Host names that reach only this machine: a site that answers nothing else is a laptop.
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]", "::1", "testserver"})


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


def serves_other_hosts() -> bool:
    """Return True when the site runs without DEBUG for a name beyond this machine."""
    hosts = {host.strip().lower() for host in settings.ALLOWED_HOSTS}
    return not settings.DEBUG and bool(hosts - LOOPBACK_HOSTS)


@register()
def check_keys_come_from_the_environment(app_configs, **kwargs):
    """Refuse generated keys once the site serves other hosts.

    A key generated into VAR_DIR is private to one host: two web hosts would sign
    sessions, JWTs and audit checkpoints with different keys, and a lost var/ makes
    every checkpoint unverifiable. On a laptop (DEBUG, or loopback names only) the
    generated key is what `make run` wants, so it stays allowed there.
    """
    if not serves_other_hosts():
        return []
    return [
        Error(
            f"{name} is not set in the environment, so this host generated its own.",
            hint=f"Set {name} to the same secret on every host (ALLOWED_HOSTS names "
            "hosts beyond this machine and DEBUG is off).",
            id="audit.E006",
        )
        for name in getattr(settings, "GENERATED_SECRETS", [])
    ]


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


@register()
def check_sealer_lease(app_configs, **kwargs):
    """Refuse a sealer lease the sealer cannot renew before it runs out."""
    lease = getattr(settings, "AUDIT_SEALER_LEASE_SECONDS", 5.0)
    interval = getattr(settings, "AUDIT_SEAL_INTERVAL_SECONDS", 0.2)
    # Renewed once a round: a lease shorter than two rounds expires under a live
    # sealer whenever a round runs long, and the other sealers take it over for nothing.
    if lease < 2 * interval:
        return [
            Error(
                f"AUDIT_SEALER_LEASE_SECONDS ({lease}) must be at least twice "
                f"AUDIT_SEAL_INTERVAL_SECONDS ({interval}).",
                hint="The sealer renews its lease once a round; 5 s against 0.2 s is the default.",
                id="audit.E007",
            )
        ]
    return []


@register()
def check_audit_stream(app_configs, **kwargs):
    """Refuse an AUDIT_STREAM or AUDIT_STREAM_FORMAT the sealer could not write."""
    errors = []
    try:
        parse_stream_setting(settings.AUDIT_STREAM)
    except ValueError as error:
        errors.append(Error(str(error), id="audit.E020"))
    if settings.AUDIT_STREAM_FORMAT not in FORMATS:
        errors.append(
            Error(
                f"AUDIT_STREAM_FORMAT={settings.AUDIT_STREAM_FORMAT!r} is not one of "
                f"{', '.join(FORMATS)}.",
                id="audit.E021",
            )
        )
    return errors


@register()
def check_witness_keys(app_configs, **kwargs):
    errors = []
    for key in settings.AUDIT_WITNESS_KEYS:
        try:
            CosignerVerifier.from_key(key)
        except NoteError as error:
            errors.append(
                Error(
                    f"AUDIT_WITNESS_KEYS holds {key[:40]!r}, not a witness key: {error}.",
                    hint="Give the verifier key audit_witness --init printed "
                    "(<name>+<id>+<base64 of 0x04 and the public key>).",
                    id="audit.E008",
                )
            )
    if len(settings.AUDIT_WITNESS_KEYS) < settings.AUDIT_REQUIRE_WITNESSES:
        errors.append(
            Error(
                f"AUDIT_REQUIRE_WITNESSES is {settings.AUDIT_REQUIRE_WITNESSES} but "
                f"AUDIT_WITNESS_KEYS holds {len(settings.AUDIT_WITNESS_KEYS)} keys: "
                "verification could never pass.",
                id="audit.E009",
            )
        )
    return errors
