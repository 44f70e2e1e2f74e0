#!/usr/bin/env python
"""Print the audit trail's "Done when" report, on SQLite and on PostgreSQL.

One command gathers the four figures of the issue "Audit trail integrity":

- events lost or duplicated under load: `bench/load.py --quick --database both`
  (a real gunicorn, concurrent clients, every row matched to its request);
- tamper cases detected: the chain-verification tests, audit/tests/test_integrity*.py,
  among them the tamper matrix (audit/tests/tamper_matrix.py), printed case by case
  with its verdict and first bad sequence, grouped by threat model;
- hostile inputs handled: the hostile-input tests, tests/test_hostile*.py;
- secrets found in audit rows: the secrets tests, accounts/tests/test_secrets*.py, and
  the load run's scan of every column of every row it recorded;
- access control: the table test of every staff URL x kind of visitor, and the tests of
  account events, token revocation, throttles and refused access.

Test cases are counted from pytest's JUnit XML, so "k of k" is exact. A suite that does
not exist yet is reported as "not found", never as a number, and fails the report
unless --allow-missing is given.

    .venv/bin/python bench/security_report.py        # or: make security
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import urllib.parse
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATABASES = ("sqlite", "postgres")
NAMES = {"sqlite": "SQLite", "postgres": "PostgreSQL"}
DEFAULT_POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/test"

# (key, what the row says, the glob that finds its test modules)
SUITES = (
    ("tamper", "tamper cases detected", "audit/tests/test_integrity*.py"),
    ("hostile", "hostile inputs handled", "tests/test_hostile*.py"),
    ("secrets", "secrets tests passed", "accounts/tests/test_secrets*.py"),
    # Several globs, separated by spaces.
    ("access", "staff URL x visitor cases", "tests/test_staff_access.py"),
    (
        "accounts",
        "account/token/refusal cases",
        "accounts/tests/test_account_events.py accounts/tests/test_token_lifecycle.py "
        "accounts/tests/test_bruteforce.py tasks/tests/test_access_denied.py "
        "tasks/tests/test_body_limit.py",
    ),
)


@dataclass
class SuiteCount:
    """Test cases of one suite on one database, as JUnit XML reports them."""

    modules: list[str] = field(default_factory=list)
    total: int = 0
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    failures: list[str] = field(default_factory=list)

    @property
    def found(self) -> bool:
        return bool(self.modules)

    @property
    def ok(self) -> bool:
        return self.found and self.passed > 0 and self.failed == 0

    def cell(self) -> str:
        if not self.found:
            return "not found"
        text = f"{self.passed} of {self.total - self.skipped}"
        if self.skipped:
            text += f" ({self.skipped} skipped)"
        return text


def run_child(command: list[str], *, env: dict[str, str] | None = None) -> tuple[int, str]:
    """Run a command, capturing its output; on interruption let it clean up first.

    subprocess.run would SIGKILL the child on Ctrl-C: load.py would then leave its
    server, temporary directories and throwaway database behind.
    """
    with subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as child:
        try:
            output, _ = child.communicate(timeout=3600)
        except BaseException:
            child.send_signal(signal.SIGTERM)
            try:
                child.wait(timeout=120)
            except subprocess.TimeoutExpired:
                child.kill()
            raise
    return child.returncode, output


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def count_junit(report: Path, modules: list[str]) -> SuiteCount:
    """Count the passed, failed and skipped cases of the given modules in a JUnit file."""
    count = SuiteCount(modules=modules)
    # A test that fails and then errors in teardown is two <testcase> entries: merge them.
    outcomes: dict[tuple[str, str], set[str]] = {}
    # Our own pytest's output, not untrusted XML.
    tree = ElementTree.parse(report)  # noqa: S314
    for case in tree.iter("testcase"):
        classname = case.get("classname", "")
        if any(classname == m or classname.startswith(f"{m}.") for m in modules):
            key = (classname, case.get("name", ""))
            outcomes.setdefault(key, set()).update(child.tag for child in case)
    for (classname, name), tags in outcomes.items():
        count.total += 1
        if tags & {"failure", "error"}:
            count.failed += 1
            count.failures.append(f"{classname}::{name}")
        elif "skipped" in tags:
            count.skipped += 1
        else:
            count.passed += 1
    return count


def run_pytest(
    database: str, modules: dict[str, list[Path]], *, workdir: Path, postgres_url: str
) -> tuple[dict[str, SuiteCount], str]:
    """Run every found suite in one pytest on a database; return the counts and the output."""
    found = sorted({path for paths in modules.values() for path in paths})
    counts = {key: SuiteCount() for key in modules}
    if not found:
        return counts, ""
    report = workdir / f"junit-{database}.xml"
    env = dict(os.environ)
    # A private VAR_DIR: the SQLite test database lives there, away from a `make test`
    # running at the same time.
    env["VAR_DIR"] = str(workdir / f"var-{database}")
    env.pop("DATABASE_URL", None)
    # The tamper matrix appends one JSON line per case here (test_integrity_tamper_matrix).
    env["TAMPER_MATRIX_JSON"] = str(workdir / f"matrix-{database}.jsonl")
    if database == "postgres":
        env["DATABASE_URL"] = postgres_url
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "--tb=short",
        "-rfE",
        "-p",
        "no:cacheprovider",
        f"--junitxml={report}",
        *(str(path.relative_to(ROOT)) for path in found),
    ]
    returncode, output = run_child(command, env=env)
    if not report.exists():
        for count in counts.values():
            count.failures.append(f"pytest wrote no report (exit {returncode})")
        return counts, output
    for key, paths in modules.items():
        if paths:
            counts[key] = count_junit(report, [module_name(path) for path in paths])
            if returncode not in (0, 1) and not counts[key].total:
                counts[key].failures.append(f"pytest exited {returncode}")
    return counts, output


def run_load(workdir: Path, postgres_url: str) -> tuple[dict[str, dict], int, str]:
    """Run the quick load on both databases; return its results by database."""
    results_file = workdir / "load.json"
    # load.py creates and drops its own database, connected to the maintenance one.
    admin_url = urllib.parse.urlunsplit(
        urllib.parse.urlsplit(postgres_url)._replace(path="/postgres")
    )
    command = [
        sys.executable,
        str(ROOT / "bench" / "load.py"),
        "--quick",
        "--database",
        "both",
        "--postgres-url",
        admin_url,
        "--json",
        str(results_file),
    ]
    returncode, output = run_child(command)
    results = {}
    if results_file.exists():
        results = {item["database"]: item for item in json.loads(results_file.read_text())}
    return results, returncode, output


def load_cells(load: dict | None) -> dict[str, tuple[str, bool]]:
    """Return the load rows of the table for one database: (text, passed)."""
    if load is None:
        missing = ("no result", False)
        return {"events": missing, "chain": missing, "errors": missing, "scan": missing}
    lost, duplicated = load["lost_total"], load["duplicated_total"]
    unexpected = load["unexpected_total"]
    events = f"{lost} / {duplicated} of {load['expected_total']}"
    if unexpected:
        events += f" (+{unexpected} unexpected)"
    stream = load["stream"]
    stream_bad = stream["missing"] + stream["duplicated"] + stream["not_in_table"]
    errors = load["errors_5xx"] + load["no_response"]
    locked = load["locked_responses"] + load["locked_log_lines"]
    found = len(load["secrets_found"])
    return {
        "events": (events, not (lost or duplicated or unexpected) and load["expected_total"] > 0),
        "stream": (
            f"{stream['lines']} lines, {stream_bad} off",
            not stream_bad and not stream["hash_differs"],
        ),
        "chain": ("verified" if load["chain_ok"] else "BROKEN", load["chain_ok"]),
        "errors": (f"{errors} / {locked}", not (errors or locked or load["server_tracebacks"])),
        "scan": (f"{found} in {load['secrets_scanned']['cells']} cells", found == 0),
        "verdict": ("PASS" if load["ok"] else "FAIL", load["ok"]),
    }


THREATS = {
    "db": "database write access without the key (all must be detected)",
    "key": "key holder, after an off-machine checkpoint (detected up to it)",
    "limit": "not detected: the documented limits (asserted)",
}


def read_matrix(workdir: Path) -> dict[str, dict[str, dict]]:
    """Return {case: {database: outcome}} from the matrix files, in case order."""
    cases: dict[str, dict[str, dict]] = {}
    for database in DATABASES:
        path = workdir / f"matrix-{database}.jsonl"
        if not path.exists():
            continue
        for line in path.read_text().splitlines():
            outcome = json.loads(line)
            cases.setdefault(outcome["case"], {})[database] = outcome
    return cases


def matrix_cell(outcome: dict | None) -> tuple[str, bool]:
    """Return "detected #n" / "not detected" for one case on one database, and if as asserted."""
    if outcome is None:
        return "no result", False
    text = "not detected"
    if outcome["detected"]:
        text = f"detected #{outcome['first_bad']}" if outcome["first_bad"] else "detected"
    passed = outcome["detected"] == outcome["expected_detected"] and (
        not outcome["detected"] or outcome["first_bad"] == outcome["expected_first_bad"]
    )
    return text, passed


def print_matrix(workdir: Path) -> list[str]:
    """Print the tamper matrix grouped by threat model; return the cases not as asserted."""
    cases = read_matrix(workdir)
    if not cases:
        print("\nTamper matrix: no results (audit/tests/test_integrity_tamper_matrix.py)")
        return ["tamper matrix: no results"]
    failed = []
    width = max(len(name) for name in cases) + 2
    for threat, title in THREATS.items():
        names = [
            name
            for name, by_db in cases.items()
            if any(outcome["threat"] == threat for outcome in by_db.values())
        ]
        if not names:
            continue
        counts = []
        for database in DATABASES:
            cells = [matrix_cell(cases[name].get(database)) for name in names]
            hits = sum(text.startswith("detected") for text, _ in cells)
            counts.append(f"{NAMES[database]} {hits}/{len(names)} detected")
        print(f"\nTamper matrix: {title}; " + ", ".join(counts))
        print(f"  {'case':<{width}}{'SQLite':<18}PostgreSQL")
        for name in names:
            line = f"  {name:<{width}}"
            for database in DATABASES:
                text, passed = matrix_cell(cases[name].get(database))
                line += f"{text + ('' if passed else ' <-'):<18}"
                if not passed:
                    failed.append(f"tamper case {name!r} on {NAMES[database]}: {text}")
            print(line.rstrip())
    return failed


def print_table(rows: list[tuple[str, dict[str, tuple[str, bool]]]]) -> list[str]:
    """Print the summary table; return the rows that did not pass."""
    width = max(len(label) for label, _ in rows) + 2
    print(f"\n{'':<{width}}{'SQLite':<26}PostgreSQL")
    failed = []
    for label, cells in rows:
        line = f"{label:<{width}}"
        for database in DATABASES:
            text, passed = cells[database]
            mark = "" if passed else "  <-"
            line += f"{text + mark:<26}"
            if not passed:
                failed.append(f"{label} on {NAMES[database]}: {text}")
        print(line.rstrip())
    return failed


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("SECURITY_POSTGRES_URL", DEFAULT_POSTGRES_URL),
        help="PostgreSQL for the tests and the load run (SECURITY_POSTGRES_URL; "
        f"default {DEFAULT_POSTGRES_URL})",
    )
    parser.add_argument(
        "--allow-missing", action="store_true", help="pass even if a suite does not exist yet"
    )
    parser.add_argument("--skip-load", action="store_true", help="only run the test suites")
    parser.add_argument("--verbose", action="store_true", help="print every command's output")
    return parser.parse_args(argv)


def interrupt(signum, frame) -> None:
    """Turn SIGTERM into KeyboardInterrupt so children and temporary files are cleaned up."""
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    signal.signal(signal.SIGTERM, interrupt)
    workdir = Path(tempfile.mkdtemp(prefix="ocr-security-"))
    try:
        return report(options, workdir)
    except KeyboardInterrupt:
        print("\nInterrupted.", file=sys.stderr)
        return 130
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def report(options: argparse.Namespace, workdir: Path) -> int:
    modules = {
        key: sorted(path for glob in pattern.split() for path in ROOT.glob(glob))
        for key, _, pattern in SUITES
    }
    for key, what, pattern in SUITES:
        names = ", ".join(str(p.relative_to(ROOT)) for p in modules[key]) or "not found"
        print(f"{what:<24} {pattern.split()[0]:<34} {names}")

    loads: dict[str, dict] = {}
    load_exit = 0
    if not options.skip_load:
        print("\n-- load: bench/load.py --quick --database both", flush=True)
        loads, load_exit, output = run_load(workdir, options.postgres_url)
        if options.verbose or load_exit:
            print(output[-6000:] if not options.verbose else output)
        else:
            # load.py ends with its summary table (one line per database).
            lines = output.strip().splitlines()
            start = next((i for i, line in enumerate(lines) if line.startswith("database ")), -1)
            print("\n".join(f"   {line}" for line in lines[start:]))

    counts: dict[str, dict[str, SuiteCount]] = {}
    for database in DATABASES:
        print(f"-- tests on {NAMES[database]}", flush=True)
        counts[database], output = run_pytest(
            database, modules, workdir=workdir, postgres_url=options.postgres_url
        )
        failing = [f for count in counts[database].values() for f in count.failures]
        if options.verbose or failing:
            print(output[-6000:] if not options.verbose else output)

    rows: list[tuple[str, dict[str, tuple[str, bool]]]] = []
    if not options.skip_load:
        cells = {database: load_cells(loads.get(database)) for database in DATABASES}
        for key, label in (
            ("events", "events lost / duplicated under load"),
            ("stream", "SIEM stream vs. table"),
            ("chain", "chain after load"),
            ("errors", "5xx / 'database is locked'"),
        ):
            rows.append((label, {db: cells[db].get(key, ("-", False)) for db in DATABASES}))
    for key, what, _ in SUITES:
        rows.append(
            (
                what,
                {
                    database: (
                        counts[database][key].cell(),
                        counts[database][key].ok
                        or (options.allow_missing and not counts[database][key].found),
                    )
                    for database in DATABASES
                },
            )
        )
    if not options.skip_load:
        rows.append(
            (
                "secrets found in audit rows",
                {db: cells[db].get("scan", ("-", False)) for db in DATABASES},
            )
        )
    failed = print_matrix(workdir)
    failed += print_table(rows)
    for database in DATABASES:
        for count in counts[database].values():
            for failure in count.failures:
                print(f"  {NAMES[database]}: failed {failure}")
    if not options.skip_load and load_exit not in (0, 1):
        failed.append(f"load run did not complete (exit {load_exit})")
    if failed:
        print("\nFAIL: " + "; ".join(failed))
        return 1
    missing = [what for key, what, _ in SUITES if not modules[key]]
    print("\nPASS" + (f" (not found, allowed: {', '.join(missing)})" if missing else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
