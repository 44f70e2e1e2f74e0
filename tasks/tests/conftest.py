import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from audit.tests.fixtures import *  # noqa: F403

from .samples import encode_image, make_text_image


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """Give each test its own MEDIA_ROOT so files on disk can be counted exactly."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def stored_files(media_root):
    """Return the files currently under MEDIA_ROOT (relative paths)."""

    def files() -> list[str]:
        if not media_root.exists():
            return []
        return sorted(
            path.relative_to(media_root).as_posix()
            for path in media_root.rglob("*")
            if path.is_file()
        )

    return files


@pytest.fixture
def png_upload():
    def make(words=("invoice", "total", "amount"), name="scan.png") -> SimpleUploadedFile:
        data = encode_image(make_text_image(list(words)), format="PNG")
        return SimpleUploadedFile(name, data, content_type="application/octet-stream")

    return make


@pytest.fixture
def run_worker():
    """Run the real django-tasks-db worker until the queue is empty."""
    from django.core.management import call_command

    def run() -> None:
        call_command("db_worker", "--batch", "--no-startup-delay", "--no-reload", verbosity=0)

    return run
