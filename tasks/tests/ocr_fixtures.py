"""Fixtures for the OCR tests; test modules import the ones they use by name."""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tasks.ocr.detect import HEAD_SIZE, DetectedType, detect_kind
from tasks.ocr.engines import OcrEngine, get_engine
from tasks.tests.samples import ENGLISH


@dataclass(frozen=True)
class StoredUpload:
    """A sample document written to disk, with the type its bytes announce."""

    path: str
    kind: DetectedType


@pytest.fixture
def store_upload(tmp_path: Path) -> Callable[..., StoredUpload]:
    """Return a function that writes bytes to a file and detects their type."""
    counter = iter(range(1_000_000))

    def write(data: bytes) -> StoredUpload:
        path = tmp_path / f"upload-{next(counter)}"
        path.write_bytes(data)
        kind = detect_kind(data[:HEAD_SIZE])
        assert kind is not None, "sample bytes should be an accepted type"
        return StoredUpload(path=str(path), kind=kind)

    return write


@pytest.fixture(scope="session", params=sorted(ENGLISH))
def ocr_engine(request: pytest.FixtureRequest) -> OcrEngine:
    """Return each real engine in turn, built once for the whole test session."""
    return get_engine(request.param)


@pytest.fixture(scope="session")
def tesseract_engine() -> OcrEngine:
    """Return the process's Tesseract engine."""
    return get_engine("tesseract")
