"""The one answer to "who is the client": IP address, user agent and request id.

Audit events, django-axes lockouts and API throttling all use this module, so a
forged header can never make them disagree about who sent a request.
"""

import ipaddress
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest

from .sanitize import clean_text


@dataclass(frozen=True)
class ClientContext:
    """Who sent the request that caused an event, as far as the server can tell."""

    ip_address: str | None = None
    user_agent: str = ""
    # The server's id for the request (audit.recording.middleware.new_request_id).
    request_id: str = ""
    # The X-Request-ID the caller sent, when sane: a claim, stored in the event's
    # metadata (hashed with it) and never as its request id.
    client_request_id: str = ""


# Set by RequestIdMiddleware for the duration of a request: where record_event learns
# the client of every event recorded while serving it, however deep in a service.
current_client: ContextVar[ClientContext | None] = ContextVar("current_client", default=None)


@lru_cache(maxsize=4096)
def valid_ip(value: str | None) -> str | None:
    """Return the normalised address, or None when the value is not an IP address.

    The result is the text every database gives back, so the hash computed before
    the insert still matches the row when the chain is verified.
    """
    if not value:
        return None
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            # A dual-stack socket reports an IPv4 client as ::ffff:a.b.c.d; one
            # client keeps one address (and one lockout and throttle bucket).
            return str(address.ipv4_mapped)
        # A zone ("fe80::1%eth0") is free text from the header; the deprecated
        # IPv4-compatible form (::a.b.c.d) reads back from PostgreSQL as dotted text.
        if address.scope_id is not None or 0x10000 <= int(address) < 1 << 32:
            return None
    return str(address)


def client_ip(request: HttpRequest) -> str | None:
    """Return the client's IP address.

    REMOTE_ADDR unless TRUSTED_PROXY_COUNT is configured: the left-most
    X-Forwarded-For entry is written by the client and proves nothing. Each trusted
    proxy appends the address it received the request from, so the client is the
    entry TRUSTED_PROXY_COUNT places from the right end.
    """
    remote = valid_ip(request.META.get("REMOTE_ADDR"))
    proxies = getattr(settings, "TRUSTED_PROXY_COUNT", 0)
    if proxies <= 0:
        return remote
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    if len(hops) >= proxies:
        return valid_ip(hops[-proxies]) or remote
    if not hops:
        # Some proxies (nginx's default) send X-Real-IP instead; it counts only
        # because a proxy is trusted to have overwritten it.
        return valid_ip(request.META.get("HTTP_X_REAL_IP")) or remote
    # Fewer hops than trusted proxies: the request bypassed part of the chain, so
    # none of the header can be trusted.
    return remote


def user_agent(request: HttpRequest) -> str:
    """Return the request's user agent, escaped and truncated for storage."""
    return clean_text(
        request.META.get("HTTP_USER_AGENT", ""),
        max_length=settings.AUDIT_USER_AGENT_MAX_LENGTH,
    )


def client_context(request: HttpRequest) -> ClientContext:
    """Return the client details of a request."""
    return ClientContext(
        ip_address=client_ip(request),
        user_agent=user_agent(request),
        request_id=getattr(request, "request_id", ""),
        client_request_id=getattr(request, "client_request_id", ""),
    )


# The request being served, for receivers of framework signals (post_delete) that are
# not handed one. Set by RequestIdMiddleware.
current_request: ContextVar[HttpRequest | None] = ContextVar("current_request", default=None)
