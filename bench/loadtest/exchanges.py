"""One HTTP request's record, and the bodies the clients send."""

import http.client
import io
import secrets
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes


@dataclass
class Exchange:
    """One request, its outcome and the audit events that outcome promises."""

    action: str
    request_id: str
    status: int | None
    latency: float
    # None: the outcome has no defined meaning (5xx, no answer), so nothing is expected.
    expected: list[str] | None


Expect = Callable[[int, bytes], list[str] | None]


def fixed(outcomes: dict[int, list[str]]) -> Expect:
    """Return an Expect that maps a status to its events, ignoring the body."""
    return lambda status, body: outcomes.get(status)


def multipart(fields: dict[str, str], files: dict[str, tuple[str, bytes, str]]) -> tuple:
    """Return (body, content type) of a multipart/form-data request."""
    boundary = f"----bench{secrets.token_hex(12)}"
    out = io.BytesIO()
    for name, value in fields.items():
        out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode())
        out.write(value.encode() + b"\r\n")
    for name, (filename, content, ctype) in files.items():
        out.write(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{filename}"\r\nContent-Type: {ctype}\r\n\r\n'.encode()
        )
        out.write(content + b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


def small_png(text: str) -> bytes:
    """Return a small greyscale PNG showing the text."""
    from PIL import Image, ImageDraw

    image = Image.new("L", (240, 48), 255)
    ImageDraw.Draw(image).text((8, 16), text, fill=0)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
