"""The dependency vulnerability check fails closed when its database cannot be reached."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_an_unreachable_vulnerability_database_is_a_failure_that_says_so():
    # Every lookup goes through a proxy on a closed loopback port: as on a machine offline.
    closed = "http://127.0.0.1:9"
    env = {**os.environ, "HTTPS_PROXY": closed, "HTTP_PROXY": closed, "NO_PROXY": ""}
    done = subprocess.run(
        [sys.executable, str(ROOT / ".ci" / "audit-deps.py"), "requirements-s3.txt"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "requirements-s3.txt: NOT CHECKED" in done.stderr
    assert "a failure, not a pass" in done.stderr
    assert "no known vulnerability" not in done.stdout
