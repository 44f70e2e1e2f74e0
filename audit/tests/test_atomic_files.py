"""A file written with atomic_write appears whole under its name, or not at all."""

import stat

import pytest

from audit.atomic_files import atomic_write


def test_the_file_replaces_the_old_one_whole_with_owner_only_permissions(tmp_path):
    target = tmp_path / "checkpoint.json"
    target.write_text("old")

    with atomic_write(target) as handle:
        handle.write("new ")
        assert target.read_text() == "old"  # nothing shows until the block ends
        handle.write("text")

    assert target.read_text() == "new text"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert [path.name for path in tmp_path.iterdir()] == ["checkpoint.json"]


def test_without_overwrite_an_existing_file_is_kept_and_the_attempt_refused(tmp_path):
    target = tmp_path / "archive.gz"
    target.write_bytes(b"first")

    with pytest.raises(FileExistsError), atomic_write(target, binary=True, overwrite=False) as raw:
        raw.write(b"second")

    assert target.read_bytes() == b"first"
    assert [path.name for path in tmp_path.iterdir()] == ["archive.gz"]


def test_an_error_while_writing_leaves_no_file_and_no_partial_one(tmp_path):
    target = tmp_path / "secret_key"

    with pytest.raises(RuntimeError), atomic_write(target, overwrite=False) as handle:
        handle.write("half")
        raise RuntimeError("disk full")

    assert list(tmp_path.iterdir()) == []
