"""The OCR figures' printed pages and their way in through the API upload.

Shared by ocr-overhead and ocr-workers (text-layer takes the words): a page of
dictionary words, a client with a JWT, an upload that returns the new task ids, and
the django.tasks rows a figure that ran its jobs itself leaves behind.
"""

import io
from typing import Any

from django.test import Client
from PIL import Image, ImageDraw, ImageFont

from tasks.tests.scan_corpus import SCAN_WORDS

# The bench page's vocabulary: the first thirty words of the scan corpus's, in order,
# so both read the same kind of text and the page keeps its words.
WORDS = list(SCAN_WORDS[:30])
ENGLISH = {"tesseract": "eng", "rapidocr": "en"}


def page_image(seed: int, *, size=(1240, 1754), lines: int = 22) -> Image.Image:
    """Return a white page of printed dictionary words (A4 at 150 dpi by default)."""
    font = ImageFont.load_default(size=30)
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    for line in range(lines):
        words = [WORDS[(seed * 31 + line * 7 + k * 13) % len(WORDS)] for k in range(7)]
        draw.text((90, 90 + line * 70), " ".join(words), font=font, fill="black")
    return image


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def api_client(user) -> tuple[Client, dict]:
    from accounts.services import issue_tokens

    pair, _ = issue_tokens(user)
    client = Client(REMOTE_ADDR="198.51.100.30", HTTP_USER_AGENT="bench-ocr/1.0")
    return client, {"HTTP_AUTHORIZATION": f"Bearer {pair.access}"}


def upload(client, headers, files: list[tuple[str, bytes]], *, engine: str) -> list[str]:
    """Upload documents through POST /api/v2/tasks; return the new task ids."""
    payload: dict[str, Any] = {
        "file": [io.BytesIO(data) for _, data in files],
        "engine": engine,
        "language": ENGLISH[engine],
    }
    for handle, (name, _) in zip(payload["file"], files, strict=True):
        handle.name = name
    response = client.post("/api/v2/tasks", payload, **headers)
    assert response.status_code == 201, response.content[:300]
    return [task["id"] for task in response.json()]


def forget_queued_jobs() -> None:
    """Drop the django.tasks rows a figure queued and ran itself."""
    from django_tasks_db.models import DBTaskResult

    DBTaskResult.objects.all().delete()
