"""Each test's own file storage, whichever backend FILE_STORAGE_BACKEND names.

Tests reach stored files only through the Storage API (never MEDIA_ROOT paths), so the
suite runs unchanged on a local folder and on Django's InMemoryStorage (.ci/run). The
fixtures that hand a test its storage (media_root, file_store, stored_files) are in the
root conftest.py.
"""

import os
import time
from datetime import timedelta
from pathlib import Path

from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, default_storage, storages
from django.utils import timezone

from tasks.storage import local_path, walk_files


class FileStore:
    """The default storage of one test, and this host's staging directory."""

    def __init__(self, *, staging: Path) -> None:
        self.staging = staging

    @property
    def is_local(self) -> bool:
        return isinstance(storages["default"], FileSystemStorage)

    def write(self, name: str, data: bytes, *, age_seconds: int = 0) -> str:
        """Store `data` under `name` (replacing a file there), written `age_seconds` ago."""
        if name.startswith("staging/"):
            path = self.staging / name.removeprefix("staging/")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            stamp = time.time() - age_seconds
            os.utime(path, (stamp, stamp))
            return name
        if default_storage.exists(name):
            default_storage.delete(name)
        stored = default_storage.save(name, ContentFile(data))
        assert stored == name
        if age_seconds:
            self._backdate(name, age_seconds)
        return name

    def _backdate(self, name: str, age_seconds: int) -> None:
        path = local_path(name)
        if path is None:
            # InMemoryStorage keeps its times on the file node; no public API sets them.
            node = default_storage._resolve(name)  # type: ignore[attr-defined]  # private, above
            node.modified_time = timezone.now() - timedelta(seconds=age_seconds)
        else:
            stamp = time.time() - age_seconds
            os.utime(path, (stamp, stamp))

    def read(self, name: str) -> bytes:
        with default_storage.open(name, "rb") as handle:
            return handle.read()

    def delete(self, name: str) -> None:
        default_storage.delete(name)

    def exists(self, name: str) -> bool:
        if name.startswith("staging/"):
            return (self.staging / name.removeprefix("staging/")).exists()
        return default_storage.exists(name)

    def files(self) -> list[str]:
        """Return every stored file and every staged one (as staging/...), sorted."""
        found = list(walk_files(""))
        if self.staging.exists():
            found += [
                "staging/" + path.relative_to(self.staging).as_posix()
                for path in self.staging.rglob("*")
                if path.is_file()
            ]
        return sorted(found)
