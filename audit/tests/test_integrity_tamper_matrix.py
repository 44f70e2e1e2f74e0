"""Run the tamper matrix (audit/tests/tamper_matrix.py) through verify_audit_chain.

Each case asserts its verdict and first bad sequence. With TAMPER_MATRIX_JSON set, each
outcome is also appended there as a JSON line: `make security` prints the matrix from it.
"""

import json
import os
import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from audit.tests.tamper_matrix import CASES, THREATS, Case, build_trail

BROKEN_AT = re.compile(r"BROKEN(?: at #(\d+))?")


def verify(*args: str) -> tuple[int, str]:
    out = StringIO()
    try:
        call_command("verify_audit_chain", *args, stdout=out)
    except CommandError as error:
        return error.returncode, out.getvalue() + str(error)
    return 0, out.getvalue()


def record(case: Case, *, detected: bool, first_bad: int | None, output: str) -> None:
    path = os.environ.get("TAMPER_MATRIX_JSON")
    if not path:
        return
    line = {
        "database": connection.vendor,
        "threat": case.threat,
        "case": case.name,
        "expected_detected": case.detected,
        "expected_first_bad": case.first_bad,
        "detected": detected,
        "first_bad": first_bad,
        "verdict": output.strip().splitlines()[-1][:300] if output.strip() else "",
    }
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(line) + "\n")


def test_the_matrix_is_large_enough_and_covers_each_threat():
    threats = [case.threat for case in CASES]
    assert threats.count("db") >= 20
    assert threats.count("key") >= 4
    assert set(threats) == set(THREATS)
    assert len({case.name for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_tamper_case(db, settings, tmp_path, case):
    trail = build_trail(settings, tmp_path / "offsite")
    assert verify("--checkpoint-dir", str(trail.offsite))[0] == 0  # intact before
    case.tamper(trail)
    args = ["--checkpoint-dir", str(trail.offsite)] if case.offsite else []
    code, output = verify(*args)
    match = BROKEN_AT.search(output)
    first_bad = int(match.group(1)) if match and match.group(1) else None
    if case.refused:
        # Prevented, which is more than detected: the trail is as it was.
        record(case, detected=True, first_bad=None, output="refused by the database")
        assert code == 0, output
        assert "OK" in output
        return
    record(case, detected=code != 0, first_bad=first_bad, output=output)
    if not case.detected:
        assert code == 0, output
        assert "OK" in output
        return
    assert code == 1, output
    assert match, output
    assert first_bad == case.first_bad, output
    assert case.reason in output, output
