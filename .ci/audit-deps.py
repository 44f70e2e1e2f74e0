"""Check the hash-pinned locks for known vulnerabilities, failing closed.

pip-audit reports a package it could not look up (no vulnerability database reachable)
as skipped and still exits 0 when nothing was found: a gate built on it alone is green on
a machine without internet. Here every package must have been looked up: a skipped one,
an empty report or pip-audit's own failure is exit 2, saying so; a known vulnerability
is exit 1. Run it where the vulnerability service is reachable (README, Supply chain).

    python .ci/audit-deps.py [LOCK ...]     (default: the three locks)
"""

import json
import subprocess
import sys
import tempfile
from pathlib import Path

LOCKS = ("requirements.txt", "requirements-dev.txt", "requirements-s3.txt")
UNCHECKED = 2


def audit(lock: str) -> tuple[int, list[str]]:
    """Return (exit status, messages) for one lock."""
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "report.json"
        # The lock is complete and hashed: no resolution, nothing installed, only looked up.
        command = [sys.executable, "-m", "pip_audit", "--requirement", lock, "--require-hashes"]
        command += ["--disable-pip", "--no-deps", "--progress-spinner", "off"]
        command += ["--format", "json", "--output", str(report)]
        done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
        text = report.read_text() if report.exists() else ""
    if not text:
        return UNCHECKED, [
            f"{lock}: NOT CHECKED: pip-audit failed (exit {done.returncode}), the "
            "vulnerability database was not reached: a failure, not a pass.",
            done.stderr.strip()[-2000:],
        ]
    dependencies = json.loads(text).get("dependencies", [])
    skipped = [d for d in dependencies if d.get("skip_reason")]
    vulnerable = [d for d in dependencies if d.get("vulns")]
    messages = [
        f"{lock}: {d['name']} {d.get('version', '')}: " + ", ".join(v["id"] for v in d["vulns"])
        for d in vulnerable
    ]
    if not dependencies or skipped:
        reason = skipped[0]["skip_reason"] if skipped else "no package in the report"
        messages.append(
            f"{lock}: NOT CHECKED: {len(skipped)} of {len(dependencies)} packages could not "
            f"be looked up ({reason}). The vulnerability database was not reachable: this "
            "is a failure, not a pass."
        )
        return UNCHECKED, messages
    if vulnerable or done.returncode not in (0, 1):
        return 1 if vulnerable else UNCHECKED, messages or [done.stderr.strip()[-2000:]]
    return 0, [f"{lock}: {len(dependencies)} packages checked, no known vulnerability."]


def main(locks: list[str]) -> int:
    worst = 0
    for lock in locks or LOCKS:
        status, messages = audit(lock)
        print("\n".join(messages), file=sys.stderr if status else sys.stdout)
        worst = max(worst, status)
    return worst


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
