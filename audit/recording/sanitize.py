"""Make untrusted text safe to store and to print, and keep secrets out of the trail."""

import re
from typing import Any

REDACTED = "[redacted]"

# Words that mark a metadata key as naming a credential, matched against the key's
# words ("refresh_token", "HTTP_AUTHORIZATION") and, for "password", inside words too
# ("new_password1"). "tokens_revoked" or "sessions_ended" are counts and stay visible.
SECRET_WORDS = frozenset(
    {
        "password",
        "passwd",
        "pwd",
        "secret",
        "token",
        "refresh",
        "access",
        "authorization",
        "cookie",
        "sessionid",
        "csrftoken",
        "csrfmiddlewaretoken",
        "apikey",
        "signature",
    }
)
SECRET_PHRASES = ("password", "session_key", "sessionkey", "api_key", "private_key")

# A JWT or an API token (accounts.api_tokens.format: `ocrs_` + base62) anywhere in a
# value is redacted even under an innocent key: a token pasted into the username field
# or a user agent is a secret, whatever field carries it.
BEARER_PATTERN = re.compile(
    r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*|ocrs_[0-9A-Za-z]{16,}"
)

# C0/C1 controls, DEL and the bidirectional overrides that can disguise a filename
# ("gpj.exe" shown as "exe.jpg") or forge extra log lines (CR/LF, ANSI escapes, and
# the Unicode line and paragraph separators, which editors and splitlines() break on).
UNSAFE_CHARS = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def escape_controls(value: str) -> str:
    """Return the text with control and bidi characters written as visible escapes."""
    return UNSAFE_CHARS.sub(lambda match: f"\\u{ord(match.group()):04x}", value)


def clean_text(value: Any, *, max_length: int) -> str:
    """Return untrusted text escaped and truncated to fit its column."""
    if value is None:
        return ""
    text = escape_controls(str(value))
    if len(text) > max_length:
        text = text[: max_length - 1] + "…"
    return text


def clean_free_text(value: Any, *, max_length: int) -> str:
    """Return untrusted free text (a typed username, a user agent) cleaned, JWTs removed.

    A token pasted into the username field is a secret, whatever field carries it.
    """
    return BEARER_PATTERN.sub(REDACTED, clean_text(value, max_length=max_length))


def is_secret_key(key: str) -> bool:
    """Return True when a metadata key names a credential."""
    lowered = key.lower()
    if any(phrase in lowered for phrase in SECRET_PHRASES):
        return True
    return any(word in SECRET_WORDS for word in re.split(r"[^a-z0-9]+", lowered))


def redact(value: Any, *, depth: int = 0) -> Any:
    """Return a JSON-safe copy of metadata with credentials replaced by a marker."""
    if depth > 8:
        return REDACTED
    if isinstance(value, dict):
        return {
            clean_text(key, max_length=100): REDACTED
            if is_secret_key(str(key))
            else redact(item, depth=depth + 1)
            for key, item in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [redact(item, depth=depth + 1) for item in value[:100]]
    if isinstance(value, str):
        return BEARER_PATTERN.sub(REDACTED, clean_text(value, max_length=2000))
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return clean_text(value, max_length=2000)
