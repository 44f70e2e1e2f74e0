"""A full disk under the storage or the staging folder: refused clearly, nothing half kept.

The disk is real: a 2 MiB tmpfs mounted for the test and filled to the last byte, so
writes fail with ENOSPC exactly as they do on a full volume. Mounting needs root; where
the test may not mount, a storage whose writes fail with ENOSPC after a few bytes stands
in for it (what FileSystemStorage does on a full disk: a partial file, then the error).
"""

import errno
import io
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.core.files.storage import FileSystemStorage
from django.core.management import call_command

from audit.events import Outcome
from tasks.models import OcrTask, Status

from . import samples
from .conftest import API_TASKS, upload_file

PNG = samples.encode_image(samples.make_text_image(samples.KNOWN_WORDS), format="PNG")


class FullDiskStorage(FileSystemStorage):
    """Stand-in for a full disk: each write stores a few bytes, then fails with ENOSPC."""

    full = True

    def _save(self, name, content):
        if not self.full:
            return super()._save(name, content)
        path = Path(self.path(name))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.read(10))
        raise OSError(errno.ENOSPC, "No space left on device", str(path))


@dataclass
class Disk:
    """A small disk, full or not; `real` says whether it is a mounted filesystem."""

    root: Path
    real: bool

    def fill(self, *, leave: int = 4096) -> None:
        """Fill the disk, then give back `leave` bytes: room for a part of a file, no more."""
        if not self.real:
            FullDiskStorage.full = True
            return
        with open(self.root / "filler", "wb", buffering=0) as filler:
            try:
                while True:
                    filler.write(b"\0" * 4096)
            except OSError as error:
                assert error.errno == errno.ENOSPC
            filler.truncate(filler.tell() - leave)

    def free(self) -> None:
        if not self.real:
            FullDiskStorage.full = False
            return
        (self.root / "filler").unlink()

    def files(self) -> list[str]:
        """Return every file on the disk but the filler, relative to its root."""
        return sorted(
            path.relative_to(self.root).as_posix()
            for path in self.root.rglob("*")
            if path.is_file() and path.name != "filler"
        )


@pytest.fixture
def small_disk(tmp_path) -> Iterator[Disk]:
    """Mount a 2 MiB tmpfs for the test (unmounted after); without mount rights, a stand-in."""
    root = tmp_path / "disk"
    root.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", str(root)],
        capture_output=True,
        check=False,
    )
    disk = Disk(root=root, real=mounted.returncode == 0)
    try:
        yield disk
    finally:
        FullDiskStorage.full = True
        if disk.real:
            # Lazily: a file some failure left open must not leave the mount behind.
            subprocess.run(["umount", "--lazy", str(root)], check=True)


@pytest.fixture
def storage_on(settings, small_disk):
    """Put the default storage (as a local folder) on the small disk."""
    backend = (
        "django.core.files.storage.FileSystemStorage"
        if small_disk.real
        else f"{__name__}.FullDiskStorage"
    )
    settings.MEDIA_ROOT = small_disk.root / "media"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": backend, "OPTIONS": {"location": str(small_disk.root / "media")}},
    }
    if not small_disk.real:
        FullDiskStorage.full = False
    return small_disk


def assert_refusal_recorded(audit_events, user, *, reason: str) -> None:
    [event] = audit_events("file_upload")
    assert (event.outcome, event.user, event.metadata["reason"]) == (
        Outcome.FAILURE,
        user,
        reason,
    )
    assert event.metadata["filename"] == "scan.png"
    assert "storage is full" in event.message


@pytest.mark.django_db
def test_api_upload_to_a_full_storage_is_a_507_naming_the_cause(
    user, client_for, storage_on, settings, audit_events
):
    client = client_for(user)
    storage_on.fill()

    response = client.post(API_TASKS, {"file": [upload_file(PNG)]})

    assert response.status_code == 507
    body = response.json()
    assert body["code"] == "storage_full"
    assert "scan.png: the file storage is full; nothing was stored" in body["detail"]
    assert not OcrTask.objects.exists()
    assert storage_on.files() == []  # no partial or empty file under uploads/
    assert list(Path(settings.OCR_STAGING_DIR).iterdir()) == []
    assert_refusal_recorded(audit_events, user, reason="storage_full")


@pytest.mark.django_db
def test_page_upload_to_a_full_storage_is_a_507_page_saying_so(
    user, page_client, storage_on, settings, audit_events
):
    storage_on.fill()

    response = page_client.post("/tasks/upload/", {"file": [upload_file(PNG)]})

    assert response.status_code == 507
    assert "the file storage is full; nothing was stored" in response.content.decode()
    assert not OcrTask.objects.exists()
    assert storage_on.files() == []
    assert_refusal_recorded(audit_events, user, reason="storage_full")


@pytest.mark.django_db
def test_a_full_staging_disk_is_refused_the_same_way(
    user, client_for, settings, small_disk, audit_events
):
    if not small_disk.real:
        pytest.fail("a full staging disk needs a real mount (run as root)")
    settings.OCR_STAGING_DIR = small_disk.root / "staging"
    small_disk.fill()
    big = samples.encode_image(
        samples.make_text_image(samples.KNOWN_WORDS, size=(1600, 1600)), format="BMP"
    )

    response = client_for(user).post(API_TASKS, {"file": [upload_file(big, "scan.png")]})

    assert (response.status_code, response.json()["code"]) == (507, "storage_full")
    assert small_disk.files() == []
    assert not OcrTask.objects.exists()
    assert_refusal_recorded(audit_events, user, reason="storage_full")


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/tasks/upload/", API_TASKS])
def test_a_full_upload_spool_disk_is_refused_the_same_way(
    path, user, client_for, settings, small_disk, audit_events
):
    if not small_disk.real:
        pytest.fail("a full spool disk needs a real mount (run as root)")
    # Every file spooled to disk while the request is parsed, as big uploads are.
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 0
    settings.FILE_UPLOAD_TEMP_DIR = str(small_disk.root)
    small_disk.fill()

    response = client_for(user).post(path, {"file": [upload_file(PNG)]})

    assert response.status_code == 507
    assert "the file storage is full; nothing was stored" in response.content.decode()
    assert small_disk.files() == []
    assert not OcrTask.objects.exists()
    [event] = audit_events("file_upload")
    assert (event.outcome, event.metadata["reason"]) == (Outcome.FAILURE, "storage_full")


@pytest.mark.django_db(transaction=True)
def test_a_searchable_pdf_the_full_storage_refused_is_not_kept_and_is_built_later(
    user, make_task, run_worker, storage_on, page_client
):
    task = make_task(user)
    storage_on.fill()

    run_worker()

    task.refresh_from_db()
    # The text is read and kept; the PDF is not stored empty or cut short, nor at all.
    assert task.status == Status.COMPLETED
    assert set(samples.KNOWN_WORDS) <= samples.words_in(task.result_text)
    assert task.searchable_pdf.name == ""
    assert storage_on.files() == [f"media/{task.file.name}"]

    storage_on.free()
    out = io.StringIO()
    call_command("build_searchable_pdfs", stdout=out)

    assert out.getvalue() == "Built 1 searchable PDF(s); 0 could not be built.\n"
    task.refresh_from_db()
    response = page_client.get(f"/tasks/{task.pk}/download.pdf")
    assert response.status_code == 200
    assert b"".join(response.streaming_content).startswith(b"%PDF-")


@pytest.mark.django_db
def test_an_empty_stored_searchable_pdf_is_built_again(user, make_task, processed, file_store):
    task = processed(make_task(user))
    file_store.write(task.searchable_pdf.name, b"")  # what a full disk left before this fix
    out = io.StringIO()

    call_command("build_searchable_pdfs", stdout=out)

    assert out.getvalue() == "Built 1 searchable PDF(s); 0 could not be built.\n"
    task.refresh_from_db()
    assert file_store.read(task.searchable_pdf.name).startswith(b"%PDF-")
    assert [name for name in file_store.files() if name.startswith("derived/")] == [
        task.searchable_pdf.name
    ]
