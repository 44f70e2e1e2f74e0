"""GET /.well-known/audit-log-key: the public keys the audit trail's checkpoints verify with."""

from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET

from ..transparency.keys import KeyFileError, verifiers
from ..transparency.verifier.signed_note import NoteError


@require_GET
@cache_control(public=True, max_age=300)
def audit_log_key(request: HttpRequest) -> HttpResponse:
    """Return the verifier keys, one C2SP verifier key a line; 404 when none is configured.

    Public on purpose: a checkpoint is worth something only to whoever can check it
    without asking us, and a verifier key gives nothing away.
    """
    try:
        keys = [verifier.key() for verifier in verifiers()]
    except (KeyFileError, NoteError):
        keys = []  # the system check names the broken setting; serve nothing wrong
    if not keys:
        return HttpResponse(
            "No audit log key is configured.\n", status=404, content_type="text/plain"
        )
    return HttpResponse("".join(f"{key}\n" for key in keys), content_type="text/plain")
