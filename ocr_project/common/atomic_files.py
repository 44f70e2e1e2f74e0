"""Write a file that appears whole under its name or not at all, and survives a crash."""

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any


@contextmanager
def atomic_write(path: Path, *, binary: bool = False, overwrite: bool = True) -> Iterator[IO[Any]]:
    """Yield a file to write; when the block ends without error, publish it as ``path``.

    The file is written beside the target under a hidden temporary name (owner-only
    permissions), flushed and fsynced, then renamed over the target, or, without
    ``overwrite``, hard-linked to it: the link fails with FileExistsError when the name
    is taken, so an existing file is never replaced. Whatever happens, the temporary
    name is removed; once published, the directory is fsynced so the name survives a
    crash.
    """
    path = Path(path)
    directory = path.parent.resolve()
    fd, temporary = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".partial")
    try:
        with os.fdopen(fd, "wb" if binary else "w", encoding=None if binary else "utf-8") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        if overwrite:
            os.replace(temporary, path)
        else:
            os.link(temporary, path)
    finally:
        Path(temporary).unlink(missing_ok=True)
    fsync_directory(directory)


def fsync_directory(directory: Path) -> None:
    """Make a rename in a directory durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
