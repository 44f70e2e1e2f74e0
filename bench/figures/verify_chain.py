"""Figure verify-chain: manage.py verify_audit_chain over the whole table, in a subprocess."""

import re
import subprocess
import sys
import time

from bench.context import Context
from bench.databases import ROOT
from bench.timing import Row

FIGURE = "verify-chain"
TARGET_ROWS = 100_000


def run(ctx: Context, env: dict[str, str]) -> None:
    """Time verify_audit_chain from outside; the rate is the command's own count and time."""
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
            figure=FIGURE,
            backend=ctx.backend,
            case="verify_audit_chain",
            unit="rows/s",
            value=rate,
            value_label="rows/s",
            target=f">= {TARGET_ROWS:,} rows/s",
            ok=done.returncode == 0 and rate >= TARGET_ROWS,
            samples=1,
            note=(
                f"exit {done.returncode}; {rows:,} rows in {inner:.1f} s "
                f"({wall:.1f} s with process start-up): {output.splitlines()[-1][:160]}"
            ),
        )
    )
