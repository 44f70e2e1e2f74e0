"""DRF authentication by `Authorization: Bearer ocrs_…`, beside the JWT bearer tokens."""

from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed

from audit.recording.client import client_ip

from .format import looks_like_token
from .services import ApiTokenRefused, api_token_authenticate


class ApiTokenAuthentication(BaseAuthentication):
    """Authenticate a request by an API token; leave every other Bearer value to JWT.

    Listed before the JWT class: a JWT never starts with `ocrs_`, so which class a
    credential belongs to is decided by its prefix, and a refused token is a 401 naming
    why rather than JWT's "token not valid".
    """

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if len(parts) != 2 or parts[0].lower() != b"bearer":
            return None
        try:
            text = parts[1].decode("ascii")
        except UnicodeDecodeError:
            return None
        if not looks_like_token(text):
            return None
        try:
            # A DRF Request wraps the HttpRequest; the upload middleware passes the latter.
            http_request = getattr(request, "_request", request)
            token = api_token_authenticate(text=text, ip_address=client_ip(http_request))
        except ApiTokenRefused as refused:
            raise AuthenticationFailed(
                refused.message, code=f"api_token_{refused.reason}"
            ) from None
        return token.user, token

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'
