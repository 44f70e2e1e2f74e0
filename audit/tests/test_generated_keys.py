"""SECRET_KEY and AUDIT_SIGNING_KEY generated on first start: one key, however many processes.

`make run` and the browser tests start several processes on a fresh VAR_DIR at once (web,
worker, collectstatic). They must all sign with the same key, and none may read a file
another is still writing: CI once caught an empty key that way.
"""

import hashlib
import os
import stat
import subprocess
import sys
import time

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from ocr_project import environment

# Each process loads everything settings import, waits for the starting signal, then
# reads its settings: the key generation of all of them overlaps as closely as it can.
# Prints digests, never the keys themselves.
START_TOGETHER = """
import hashlib, os, sys
import dj_database_url, django.core.exceptions, django.utils.csp, django.utils.translation
while not os.path.exists(sys.argv[1]):
    pass
from ocr_project import settings
for key in (settings.SECRET_KEY, settings.AUDIT_SIGNING_KEY):
    print(hashlib.sha256(key.encode()).hexdigest())
"""


def start_together(var_dir, processes: int) -> list[str]:
    """Start `processes` fresh interpreters on one VAR_DIR at once; return their outputs."""
    env = {**os.environ, "VAR_DIR": str(var_dir / "var")}
    env.pop("SECRET_KEY", None)
    env.pop("AUDIT_SIGNING_KEY", None)
    go = var_dir / "go"
    starts = [
        subprocess.Popen(
            [sys.executable, "-c", START_TOGETHER, str(go)],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    time.sleep(1)  # long enough for every interpreter to reach the wait
    go.touch()
    outputs = []
    for start in starts:
        out, err = start.communicate(timeout=120)
        assert start.returncode == 0, err
        outputs.append(out)
    return outputs


def test_processes_starting_together_on_a_fresh_directory_share_one_key(tmp_path):
    for attempt in range(3):
        round_dir = tmp_path / str(attempt)
        round_dir.mkdir()
        outputs = start_together(round_dir, processes=4)
        assert len(set(outputs)) == 1, "processes started together disagree on the keys"

        var_dir = round_dir / "var"
        on_disk = [
            hashlib.sha256((var_dir / name).read_text().strip().encode()).hexdigest()
            for name in ("secret_key", "audit_signing_key")
        ]
        assert outputs[0].split() == on_disk
        assert on_disk[0] != on_disk[1]
        for name in ("secret_key", "audit_signing_key"):
            assert stat.S_IMODE((var_dir / name).stat().st_mode) == 0o600
        leftovers = [p.name for p in var_dir.iterdir() if p.name.startswith(".")]
        assert not leftovers, "the private candidates must be removed"


@pytest.fixture
def fresh_var_dir(tmp_path, monkeypatch):
    monkeypatch.delenv("TEST_ONLY_KEY", raising=False)
    return tmp_path


@pytest.fixture
def secret_files(fresh_var_dir):
    return environment.SecretFiles(fresh_var_dir)


def test_a_key_published_first_by_another_process_wins(fresh_var_dir, secret_files, monkeypatch):
    # Another process publishes between our existence check and our link.
    real_link = os.link

    def publish_theirs_first(source, target):
        (fresh_var_dir / "test_key").write_text("theirs")
        real_link(source, target)

    monkeypatch.setattr(environment.os, "link", publish_theirs_first)

    assert secret_files.persistent_secret("TEST_ONLY_KEY", "test_key") == "theirs"
    assert [p.name for p in fresh_var_dir.iterdir()] == ["test_key"]


def test_the_generated_key_is_reused(secret_files):
    first = secret_files.persistent_secret("TEST_ONLY_KEY", "test_key")
    assert len(first) >= 50
    assert secret_files.persistent_secret("TEST_ONLY_KEY", "test_key") == first
    assert set(secret_files.generated) == {"TEST_ONLY_KEY"}


def test_the_environment_wins_over_the_file(fresh_var_dir, secret_files, monkeypatch):
    (fresh_var_dir / "test_key").write_text("from the file")
    monkeypatch.setenv("TEST_ONLY_KEY", "from the environment")
    assert secret_files.persistent_secret("TEST_ONLY_KEY", "test_key") == "from the environment"
    assert secret_files.generated == []


def test_an_empty_key_file_is_refused_with_what_to_do(fresh_var_dir, secret_files):
    (fresh_var_dir / "test_key").write_text("\n")
    with pytest.raises(ImproperlyConfigured, match="delete it to generate a new TEST_ONLY_KEY"):
        secret_files.persistent_secret("TEST_ONLY_KEY", "test_key")
