"""A file written with atomic_write appears whole under its name, or not at all."""

import stat

import pytest

from ocr_project.common.atomic_files import atomic_write


@pytest.fixture
def folder(tmp_path):
    """An empty folder (tmp_path holds the suite's spool folder)."""
    path = tmp_path / "files"
    path.mkdir()
    return path


def test_the_file_replaces_the_old_one_whole_with_owner_only_permissions(folder):
    target = folder / "checkpoint.json"
    target.write_text("old")

    with atomic_write(target) as handle:
        handle.write("new ")
        assert target.read_text() == "old"  # nothing shows until the block ends
        handle.write("text")

    assert target.read_text() == "new text"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert [path.name for path in folder.iterdir()] == ["checkpoint.json"]


def test_without_overwrite_an_existing_file_is_kept_and_the_attempt_refused(folder):
    target = folder / "archive.gz"
    target.write_bytes(b"first")

    with pytest.raises(FileExistsError), atomic_write(target, binary=True, overwrite=False) as raw:
        raw.write(b"second")

    assert target.read_bytes() == b"first"
    assert [path.name for path in folder.iterdir()] == ["archive.gz"]


def test_an_error_while_writing_leaves_no_file_and_no_partial_one(folder):
    target = folder / "secret_key"

    with pytest.raises(RuntimeError), atomic_write(target, overwrite=False) as handle:
        handle.write("half")
        raise RuntimeError("disk full")

    assert list(folder.iterdir()) == []
