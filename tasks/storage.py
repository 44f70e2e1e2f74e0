"""Stored documents through Django's Storage API, so object storage is a setting.

Nothing here knows where the bytes live: the default storage may be a local folder,
S3 (django-storages) or Django's InMemoryStorage. Code that needs a real file (the OCR
engines and PDFium read paths) gets a private local copy for as long as it needs it.
"""

import errno
import logging
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from django.core.exceptions import SuspiciousFileOperation
from django.core.files import File
from django.core.files.storage import FileSystemStorage, default_storage, storages
from django.core.files.utils import validate_file_name

COPY_CHUNK = 1024 * 1024

logger = logging.getLogger(__name__)

# A disk or a quota with no room left: the storage is full, not broken.
FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})


class StorageWriteFailed(Exception):
    """A file could not be written to the storage whole; nothing of it was kept."""

    def __init__(self, name: str, cause: BaseException) -> None:
        super().__init__(f"Could not store {name}: {cause}")
        self.name = name
        self.cause = cause

    @property
    def full(self) -> bool:
        """Return True when the storage (or the disk under it) has no room left."""
        return isinstance(self.cause, OSError) and self.cause.errno in FULL_ERRNOS


def save_whole(name: str, content: File, *, size: int | None = None) -> str:
    """Store `content` under `name` (or the free name the storage picks); return that name.

    All or nothing: a write that fails part-way (a full disk, a quota, an object store
    that refuses) leaves no partial or empty file behind and raises StorageWriteFailed.
    `size`, when known, is checked against what the storage says it holds.
    """
    name = safe_name(name)
    # Asked first so that the name a failed write used is known and can be removed.
    # Generated names (a uuid, a task id) do not race, so save() keeps this one.
    target = default_storage.get_available_name(name)
    try:
        saved = default_storage.save(target, content)
        if size is not None and (stored := default_storage.size(saved)) != size:
            raise OSError(errno.EIO, f"{stored} of {size} bytes stored")
    except Exception as error:
        try:
            default_storage.delete(target)
        except Exception:  # the write's error is the one to report
            logger.warning("Could not remove the partial file %s", target, exc_info=True)
        raise StorageWriteFailed(target, error) from error
    return saved


def safe_name(name: str) -> str:
    """Return a storage name after refusing absolute paths and '..' parts.

    Storage names are generated, so a name that climbs out means a tampered row: it
    must never reach a storage's delete or open, whatever that storage does with it.
    """
    try:
        # The stubs widen the result to PathLike; it returns the str it was given.
        return validate_file_name(name, allow_relative_path=True)  # type: ignore[return-value]
    except SuspiciousFileOperation as error:
        raise ValueError(f"Refusing a storage name outside the storage: {name!r}") from error


def save_file(*, name: str, local_path: Path) -> str:
    """Copy a local file into the storage under `name`; return the name it was stored as."""
    with open(local_path, "rb") as handle:
        # The storage applies FILE_UPLOAD_PERMISSIONS where it has permissions at all.
        return save_whole(name, File(handle, name=Path(name).name), size=local_path.stat().st_size)


def delete_file(name: str | None) -> int:
    """Delete a stored file; return the bytes freed (0 when it was already gone)."""
    if not name:
        return 0
    name = safe_name(name)
    try:
        size = default_storage.size(name)
    except (FileNotFoundError, OSError):
        return 0
    default_storage.delete(name)
    return size


def file_size(name: str) -> int | None:
    """Return a stored file's size, or None when it is not there."""
    try:
        return default_storage.size(safe_name(name))
    except (FileNotFoundError, OSError):
        return None


def walk_files(folder: str) -> Iterator[str]:
    """Yield the name of every file stored under `folder`, recursively."""
    try:
        directories, files = default_storage.listdir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return
    prefix = f"{folder}/" if folder else ""
    for name in files:
        yield prefix + name
    for directory in directories:
        yield from walk_files(prefix + directory)


def local_path(name: str) -> Path | None:
    """Return where a local folder storage keeps `name`; None for any other storage.

    Asked by type: Storage.path() is not enough, since InMemoryStorage answers it with
    a path that does not exist.
    """
    if isinstance(storages["default"], FileSystemStorage):
        return Path(default_storage.path(name))
    return None


def is_local_symlink(name: str) -> bool:
    """Return True when a local storage holds `name` as a symbolic link.

    Nothing here creates links, so one is planted: the sweep leaves it (and whatever it
    points at) alone rather than act on a file outside the storage. Object stores have
    no links.
    """
    path = local_path(name)
    return path is not None and path.is_symlink()


def modified_at(name: str) -> datetime | None:
    """Return when a stored file was last written, or None if the storage cannot say."""
    try:
        return default_storage.get_modified_time(name)
    except (NotImplementedError, FileNotFoundError, OSError):
        return None


@contextmanager
def local_copy(name: str | None, *, suffix: str = "") -> Iterator[str]:
    """Yield a local path holding the stored file's bytes; a copy is removed afterwards.

    Raises FileNotFoundError when the file is not in the storage. The engines and
    PDFium need a path; a local storage hands out its own, object stores have none, so
    their bytes are copied to a private temporary file (mode 0600) for the duration.
    """
    if not name:  # a FileField with no file
        raise FileNotFoundError("no stored file")
    name = safe_name(name)
    path = local_path(name)
    if path is not None:
        if not path.is_file():
            raise FileNotFoundError(name)
        yield str(path)
        return
    with (
        default_storage.open(name, "rb") as source,
        tempfile.NamedTemporaryFile(suffix=suffix or Path(name).suffix) as copy,
    ):
        shutil.copyfileobj(source, copy, COPY_CHUNK)
        copy.flush()
        yield copy.name
