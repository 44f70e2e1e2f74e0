"""Figures 5 and 6: streaming export of every row, and chain verification, each in a subprocess."""

import json
import re
import subprocess
import sys
import time

from bench.context import Context
from bench.databases import ROOT
from bench.timing import Row

EXPORT_TARGET_ROWS = 50_000
EXPORT_TARGET_MB = 200
VERIFY_TARGET_ROWS = 100_000


def run(ctx: Context, env: dict[str, str]) -> None:
    for fmt in ("ndjson", "csv"):
        done = subprocess.run(
            [sys.executable, "-m", "bench.export_probe", fmt],
            check=True,
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=env,
        )
        result = json.loads(done.stdout.strip().splitlines()[-1])
        rate = result["rows"] / result["seconds"]
        peak_mb = result["peak_kb"] / 1024
        ctx.add(
            Row(
                figure="5",
                backend=ctx.backend,
                case=f"?format={fmt}",
                unit="rows/s",
                value=rate,
                value_label="rows/s",
                target=f">= {EXPORT_TARGET_ROWS:,} rows/s, peak RSS <= {EXPORT_TARGET_MB} MB",
                ok=rate >= EXPORT_TARGET_ROWS and peak_mb <= EXPORT_TARGET_MB,
                samples=1,
                note=(
                    f"{result['rows']:,} rows, {result['bytes'] / 1e6:,.0f} MB in "
                    f"{result['seconds']:.1f} s; peak RSS {peak_mb:.0f} MB "
                    f"(process before the request {result['baseline_kb'] / 1024:.0f} MB)"
                ),
                extra=result,
            )
        )


def verify(ctx: Context, env: dict[str, str]) -> None:
    """Figure 6: manage.py verify_audit_chain over the whole table, timed from outside."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "verify_audit_chain"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
    )
    wall = time.perf_counter() - started
    output = (done.stdout + done.stderr).strip()
    checked = re.search(r"Checked ([\d,]+) .* in ([\d.]+) s", output)
    rows = int(checked.group(1).replace(",", "")) if checked else 0
    inner = float(checked.group(2)) if checked else wall
    rate = rows / inner if inner else 0
    ctx.add(
        Row(
            figure="6",
            backend=ctx.backend,
            case="verify_audit_chain",
            unit="rows/s",
            value=rate,
            value_label="rows/s",
            target=f">= {VERIFY_TARGET_ROWS:,} rows/s",
            ok=done.returncode == 0 and rate >= VERIFY_TARGET_ROWS,
            samples=1,
            note=(
                f"exit {done.returncode}; {rows:,} rows in {inner:.1f} s "
                f"({wall:.1f} s with process start-up): {output.splitlines()[-1][:160]}"
            ),
        )
    )
