"""Figure export-stream: the streaming export of every audit row, in a process of its own."""

import json
import subprocess
import sys

from bench.context import Context
from bench.databases import ROOT
from bench.timing import Row

FIGURE = "export-stream"
TARGET_ROWS = 50_000
TARGET_MB = 200


def run(ctx: Context, env: dict[str, str]) -> None:
    """Export as NDJSON and as CSV through bench.export_probe: rows per second and peak RSS."""
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
                figure=FIGURE,
                backend=ctx.backend,
                case=f"?format={fmt}",
                unit="rows/s",
                value=rate,
                value_label="rows/s",
                target=f">= {TARGET_ROWS:,} rows/s, peak RSS <= {TARGET_MB} MB",
                ok=rate >= TARGET_ROWS and peak_mb <= TARGET_MB,
                samples=1,
                note=(
                    f"{result['rows']:,} rows, {result['bytes'] / 1e6:,.0f} MB in "
                    f"{result['seconds']:.1f} s; peak RSS {peak_mb:.0f} MB "
                    f"(process before the request {result['baseline_kb'] / 1024:.0f} MB)"
                ),
                extra=result,
            )
        )
