"""Keys agree across hosts: a site serving other hosts refuses to start on generated keys."""

import os
import subprocess
import sys

import pytest
from django.conf import settings

from audit.checks import check_keys_come_from_the_environment

PUBLIC = ["ocr.example.com"]


def manage_check(tmp_path, **env: str) -> subprocess.CompletedProcess:
    """Run `manage.py check` in a fresh process on an empty VAR_DIR with `env` on top."""
    base = {**os.environ, "VAR_DIR": str(tmp_path / "var")}
    for name in ("SECRET_KEY", "AUDIT_SIGNING_KEY", "AUDIT_CHAIN_KEYS", "DEBUG", "ALLOWED_HOSTS"):
        base.pop(name, None)
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=settings.BASE_DIR,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_public_site_without_secret_key_does_not_start(tmp_path):
    result = manage_check(
        tmp_path,
        DEBUG="0",
        ALLOWED_HOSTS=PUBLIC[0],
        AUDIT_SIGNING_KEY="a" * 40,
        AUDIT_CHAIN_KEYS="k1:" + "c" * 40,
    )

    assert result.returncode != 0
    assert "audit.E006" in result.stderr
    assert "SECRET_KEY is not set in the environment" in result.stderr
    assert "AUDIT_SIGNING_KEY is not set" not in result.stderr
    assert "AUDIT_CHAIN_KEYS is not set" not in result.stderr


def test_the_laptop_default_still_starts_on_generated_keys(tmp_path):
    # `make run`: no keys, no DEBUG, loopback names only.
    result = manage_check(tmp_path)

    assert result.returncode == 0, result.stderr
    assert (tmp_path / "var" / "secret_key").exists()


@pytest.mark.parametrize(
    ("generated", "debug", "hosts", "refused"),
    [
        (["AUDIT_SIGNING_KEY"], False, PUBLIC, ["AUDIT_SIGNING_KEY"]),
        (["AUDIT_CHAIN_KEYS"], False, PUBLIC, ["AUDIT_CHAIN_KEYS"]),
        (["SECRET_KEY", "AUDIT_SIGNING_KEY"], False, ["*"], ["SECRET_KEY", "AUDIT_SIGNING_KEY"]),
        (["SECRET_KEY", "AUDIT_SIGNING_KEY"], True, PUBLIC, []),
        (["SECRET_KEY", "AUDIT_SIGNING_KEY"], False, ["localhost", "127.0.0.1", "[::1]"], []),
        ([], False, PUBLIC, []),
    ],
    ids=[
        "audit-key-missing",
        "chain-key-missing",
        "any-host",
        "debug-on",
        "loopback-only",
        "both-set",
    ],
)
def test_generated_keys_are_refused_only_beyond_loopback_without_debug(
    settings, generated, debug, hosts, refused
):
    settings.GENERATED_SECRETS = generated
    settings.DEBUG = debug
    settings.ALLOWED_HOSTS = hosts

    errors = check_keys_come_from_the_environment(None)

    assert [error.msg.split()[0] for error in errors] == refused
    assert all(error.id == "audit.E006" for error in errors)
