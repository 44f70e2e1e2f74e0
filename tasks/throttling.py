"""How often one person may upload: one bucket per user, shared by the page and the API.

Checked before the body is read (the same place as the size limit), so a throttled
upload costs the server the headers only. Not audited, like a throttled login: nothing
was read and nobody's data was touched, and auditing each refusal would let one account
fill the trail at the rate it can send requests.
"""

import math

from django.http import HttpRequest
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from ocr_project.common.rate_limits import ReportingRateThrottle

from .uploads import UploadRejected


class UploadRateThrottle(ReportingRateThrottle):
    """Upload requests per signed-in user (rate: UPLOAD_THROTTLE_RATE)."""

    scope = "upload"

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": f"user:{request.user.pk}"}


def refuse_too_frequent(*, request: HttpRequest) -> None:
    """Raise UploadRejected (429, with the wait) when this user uploads too often."""
    throttle = UploadRateThrottle()
    # Only request.user is read, which a Django request has as a DRF one does.
    if throttle.allow_request(request, None):  # type: ignore[arg-type]
        return
    wait = math.ceil(throttle.wait() or 1)
    raise UploadRejected(
        format_lazy(
            _("Too many uploads in a short time. Try again in {seconds} seconds."), seconds=wait
        ),
        code="upload_rate",
        status=429,
        retry_after=wait,
    )
