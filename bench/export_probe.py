"""Export every audit row in a fresh process: python -m bench.export_probe ndjson|csv.

A process of its own so its peak resident memory (VmHWM) is the export's, not the
bench's. The test client consumes the StreamingHttpResponse chunk by chunk, as a
WSGI server would; the result is printed as one JSON line.
"""

import json
import os
import sys
import time


def memory_kb(field: str) -> int:
    """Return a VmRSS/VmHWM line of /proc/self/status in kB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def probe(fmt: str) -> dict:
    """Export every row as `fmt` through the API; return rows/s and memory."""
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.test import Client

    from bench.seed import STAFF_USERNAME

    client = Client()
    client.force_login(get_user_model().objects.get(username=STAFF_USERNAME))
    baseline = memory_kb("VmRSS")
    started = time.perf_counter()
    response = client.get(f"/api/v2/admin/audit-logs?format={fmt}")
    assert response.status_code == 200, response.status_code
    lines = 0
    size = 0
    for chunk in response.streaming_content:  # type: ignore[attr-defined]  # a streaming response
        lines += chunk.count(b"\n")
        size += len(chunk)
    response.close()
    seconds = time.perf_counter() - started
    rows = lines - 1 if fmt == "csv" else lines
    return {
        "rows": rows,
        "bytes": size,
        "seconds": seconds,
        "baseline_kb": baseline,
        "peak_kb": memory_kb("VmHWM"),
    }


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ocr_project.settings")
    print(json.dumps(probe(sys.argv[1])))
