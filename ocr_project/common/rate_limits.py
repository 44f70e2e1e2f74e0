"""RateLimit-Policy and RateLimit headers (draft-ietf-httpapi-ratelimit-headers-10).

Every throttle of the project derives from ReportingRateThrottle. When it decides on a
request it notes its policy and what is left, read from the very history it has just
counted the request in: the headers never count a request a second time. The
middleware writes the notes of every throttle that looked at the request onto the
response, whatever answered it (a DRF view, its 429, a service's refusal, a form):

    RateLimit-Policy: "login";q=20;w=60
    RateLimit: "login";r=19;t=60

q is the quota (requests), w the window (seconds), r the requests left in it. DRF's
windows slide (each request counts for w seconds after it), so t is the number of
seconds until the oldest request counted leaves the window and r grows by one: on a
429 (r=0) the same number as Retry-After.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass

from django.http import HttpRequest, HttpResponse
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

# Where a request's notes are kept: on the Django request, which a DRF Request wraps.
NOTES_ATTRIBUTE = "rate_limit_notes"


@dataclass(frozen=True)
class RateLimitNote:
    """One policy's quota and what this request left of it."""

    policy: str
    quota: int
    window: int
    remaining: int
    reset: int

    def policy_item(self) -> str:
        return f'"{self.policy}";q={self.quota};w={self.window}'

    def limit_item(self) -> str:
        return f'"{self.policy}";r={self.remaining};t={self.reset}'


def rate_limit_notes(request: HttpRequest) -> dict[str, RateLimitNote]:
    """Return the notes made on this request so far, by policy name."""
    return getattr(request, NOTES_ATTRIBUTE, {})


class ReportingRateThrottle(SimpleRateThrottle):
    """A SimpleRateThrottle that notes its policy and state on the request it decided on."""

    # Set by SimpleRateThrottle (from the rate, and in allow_request); unknown to the stubs.
    num_requests: int | None
    duration: int | None
    history: list[float]
    now: float

    def allow_request(self, request: Request, view: APIView) -> bool:
        allowed = super().allow_request(request, view)
        # No rate configured, or a request this throttle does not count (no key).
        if self.rate is None or getattr(self, "key", None) is None:
            return allowed
        note = RateLimitNote(
            policy=str(self.scope),
            quota=int(self.num_requests or 0),
            window=int(self.duration or 0),
            remaining=max(int(self.num_requests or 0) - len(self.history), 0),
            reset=math.ceil(self.seconds_until_one_more()),
        )
        # A DRF Request delegates reads to the Django request but keeps its own attributes.
        target = getattr(request, "_request", request)
        notes = {**rate_limit_notes(target), note.policy: note}
        setattr(target, NOTES_ATTRIBUTE, notes)
        return allowed

    def seconds_until_one_more(self) -> float:
        """Seconds until one more request fits the window (0 when one fits now).

        The history is newest first. Below the quota the next one fits now, but r grows
        again when the oldest request leaves; at or above it (a quota lowered between
        requests leaves more), once the request at the quota's position leaves.
        """
        quota = int(self.num_requests or 0)
        if quota == 0:
            # A rate of 0 lets nothing through: the window is the honest answer.
            return float(self.duration or 0)
        if not self.history:
            return 0.0
        position = min(len(self.history), quota) - 1
        return max(self.history[position] + (self.duration or 0) - self.now, 0.0)

    def wait(self) -> float | None:
        # DRF's wait() spreads the remaining window over the remaining requests, and is
        # None when more were counted than the quota allows: Retry-After would be missing.
        return self.seconds_until_one_more()


class RateLimitHeadersMiddleware:
    """Write the RateLimit-Policy and RateLimit notes of the request onto its response.

    Outside the error pages, so a 429 they rewrite (HTML for the form, JSON under /api/)
    carries them too.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        notes = rate_limit_notes(request).values()
        if notes:
            response["RateLimit-Policy"] = ", ".join(note.policy_item() for note in notes)
            response["RateLimit"] = ", ".join(note.limit_item() for note in notes)
        return response
