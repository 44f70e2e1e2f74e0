"""Documents live wherever the default storage says: no code path needs a local folder."""

import pytest
from django.core.files.storage import InMemoryStorage, storages

from tasks.models import OcrTask
from tasks.storage import delete_file, local_copy

from . import samples
from .conftest import API_TASKS, upload_file

pytestmark = pytest.mark.django_db

PNG = samples.encode_image(samples.make_text_image(samples.KNOWN_WORDS), format="PNG")


@pytest.fixture
def object_storage(settings, tmp_path):
    """Store documents in Django's InMemoryStorage: no paths, like an object store."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    }
    return tmp_path / "media"


def test_a_document_goes_from_upload_to_deletion_without_a_local_folder(
    user, client_for, object_storage, processed, stored_files, django_capture_on_commit_callbacks
):
    client = client_for(user)
    response = client.post(API_TASKS, {"file": [upload_file(PNG)]})
    assert response.status_code == 201, response.content
    [body] = response.json()
    task = processed(OcrTask.objects.get(pk=body["id"]))
    assert isinstance(storages["default"], InMemoryStorage)
    # The upload, and the searchable PDF the worker built when the task completed.
    assert task.searchable_pdf.name.startswith(f"derived/{task.pk}/")
    assert sorted(stored_files()) == sorted([task.file.name, task.searchable_pdf.name])

    assert task.status == "completed"
    assert "invoice" in task.result_text.lower()
    preview = client.get(f"/tasks/{task.pk}/pages/1.png")
    assert (preview.status_code, preview["Content-Type"]) == (200, "image/png")
    pdf = client.get(f"/tasks/{task.pk}/download.pdf")
    assert pdf.status_code == 200
    assert b"".join(pdf.streaming_content).startswith(b"%PDF-")
    original = client.get(f"/tasks/{task.pk}/original/")
    assert b"".join(original.streaming_content) == PNG

    with django_capture_on_commit_callbacks(execute=True):
        assert client.delete(f"{API_TASKS}/{task.pk}").status_code == 204

    assert stored_files() == []
    assert not object_storage.exists(), "nothing may be written under MEDIA_ROOT"


@pytest.mark.parametrize("name", ["../secret_key", "/etc/passwd", "uploads/../../x.png"])
def test_a_name_outside_the_storage_is_refused(name):
    with pytest.raises(ValueError, match="outside the storage"):
        delete_file(name)
    with pytest.raises(ValueError, match="outside the storage"), local_copy(name):
        pass
