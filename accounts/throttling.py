"""Throttle the authentication API per client IP, as the audit trail sees it."""

from rest_framework.throttling import SimpleRateThrottle

from audit.client import client_ip


class AuthRateThrottle(SimpleRateThrottle):
    """Limit /api/v2/auth/* calls per client address (rate: AUTH_THROTTLE_RATE)."""

    scope = "auth"

    def get_cache_key(self, request, view):
        # The same helper as the audit trail: a forged X-Forwarded-For cannot buy an
        # attacker a fresh bucket.
        return self.cache_format % {"scope": self.scope, "ident": client_ip(request) or "unknown"}
