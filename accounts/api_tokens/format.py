"""The token text: `ocrs_` + a public id + a secret + a checksum, all base62.

Shaped like GitHub's tokens (`ghp_` + random + CRC32): the fixed prefix lets secret
scanners find a leaked token in code or logs, and the checksum lets them (and this
server) tell a real token from a random string without a database look-up.
"""

import hashlib
import secrets
import zlib
from dataclasses import dataclass

PREFIX = "ocrs_"
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
# The id names the row (shown in lists and in the audit trail); 62**10 is plenty to keep
# ids unique without it being a secret.
ID_LENGTH = 10
# 32 base62 characters: about 190 bits from the system's CSPRNG.
SECRET_LENGTH = 32
# CRC32 is < 62**6, so six characters always hold it.
CHECKSUM_LENGTH = 6
TOKEN_LENGTH = len(PREFIX) + ID_LENGTH + SECRET_LENGTH + CHECKSUM_LENGTH


@dataclass(frozen=True)
class ParsedToken:
    lookup_id: str
    text: str


def _base62(number: int, *, width: int) -> str:
    digits = []
    for _ in range(width):
        number, digit = divmod(number, 62)
        digits.append(ALPHABET[digit])
    return "".join(reversed(digits))


def _random(length: int) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def checksum(body: str) -> str:
    """Return the six-character CRC32 of the prefix, id and secret."""
    return _base62(zlib.crc32(body.encode("ascii")), width=CHECKSUM_LENGTH)


def new_token_text() -> ParsedToken:
    """Return a fresh token: its text (shown once) and its public id."""
    lookup_id = _random(ID_LENGTH)
    body = PREFIX + lookup_id + _random(SECRET_LENGTH)
    return ParsedToken(lookup_id=lookup_id, text=body + checksum(body))


def looks_like_token(text: str) -> bool:
    """Return whether a credential is meant as an API token (by its prefix)."""
    return text.startswith(PREFIX)


def parse(text: str) -> ParsedToken | None:
    """Return the token's parts, or None when the text is not a well-formed token."""
    if len(text) != TOKEN_LENGTH or not text.startswith(PREFIX):
        return None
    if not all(character in ALPHABET for character in text[len(PREFIX) :]):
        return None
    body, check = text[:-CHECKSUM_LENGTH], text[-CHECKSUM_LENGTH:]
    if checksum(body) != check:
        return None
    return ParsedToken(lookup_id=text[len(PREFIX) : len(PREFIX) + ID_LENGTH], text=text)


def secret_hash(text: str) -> str:
    """Return the stored form of a token: the hex SHA-256 of its whole text.

    A plain hash, not a password hash: a password needs a slow, salted hash because it
    is guessable; 190 random bits are not, so a fast hash is as safe against a stolen
    table, and costs microseconds on every request instead of a PBKDF2 run.
    """
    return hashlib.sha256(text.encode("ascii")).hexdigest()
