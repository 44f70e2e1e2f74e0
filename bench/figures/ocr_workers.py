"""Figure ocr-workers: a batch of pages on one and on two ocr_worker processes (PostgreSQL).

Each worker is a real `manage.py ocr_worker` process; the batch is uploaded through
the API and counted done from the task rows. Besides the rate, every task must have
been claimed once and every page stored once.
"""

import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Count

from audit.models import AuditEvent
from bench.context import Context
from bench.databases import ROOT
from bench.ocr_uploads import api_client, forget_queued_jobs, page_image, png_bytes, upload
from bench.timing import Row
from tasks.models import OcrPage, OcrTask, Status

FIGURE = "ocr-workers"


def start_workers(count: int, env: dict[str, str], logs: Path) -> list[subprocess.Popen]:
    workers = []
    for index in range(count):
        log = open(logs / f"worker-{count}-{index}.log", "w")  # noqa: SIM115
        workers.append(
            subprocess.Popen(
                [
                    sys.executable,
                    str(ROOT / "manage.py"),
                    "ocr_worker",
                    "--interval",
                    "0.1",
                    "--no-startup-delay",
                    "--no-reload",
                    "--worker-id",
                    f"bench-{count}-{index}",
                ],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
    return workers


def stop_workers(workers: list[subprocess.Popen]) -> None:
    for worker in workers:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
    for worker in workers:
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def run(ctx: Context, env: dict[str, str]) -> None:
    """Time a 20-page batch on 1 and on 2 ocr_worker processes."""
    forget_queued_jobs()
    pages = 6 if ctx.quick else 20
    user = get_user_model().objects.get(pk=ctx.seed.user_ids[3])
    client, headers = api_client(user)
    logs = Path(env["VAR_DIR"]) / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    half_page = (1240, 877)
    rates: dict[int, list[float]] = {1: [], 2: []}
    problems: list[str] = []
    order = [1, 2]
    for attempt, count in enumerate(order):
        documents = [
            (
                f"batch-{attempt}-{n}.png",
                png_bytes(page_image(100 * attempt + n, size=half_page, lines=11)),
            )
            for n in range(pages)
        ]
        workers = start_workers(count, env, logs)
        try:
            time.sleep(3)  # Django start-up; the engine loads on each worker's first page
            started = time.perf_counter()
            ids: list[str] = []
            limit = settings.OCR_MAX_FILES_PER_REQUEST
            for offset in range(0, pages, limit):
                ids += upload(
                    client, headers, documents[offset : offset + limit], engine="tesseract"
                )
            # A task no worker claims stays queued forever: give up rather than hang.
            deadline = time.monotonic() + (120 if ctx.quick else 600)
            while time.monotonic() < deadline:
                done = OcrTask.objects.filter(
                    pk__in=ids, status__in=[Status.COMPLETED, Status.FAILED]
                ).count()
                if done == len(ids):
                    break
                time.sleep(0.05)
            seconds = time.perf_counter() - started
        finally:
            stop_workers(workers)
        failed = OcrTask.objects.filter(pk__in=ids).exclude(status=Status.COMPLETED).count()
        claims = dict(
            AuditEvent.objects.filter(event_type="task_process", resource_id__in=ids)
            .values_list("resource_id")
            .annotate(n=Count("id"))
        )
        twice = [tid for tid in ids if claims.get(tid, 0) != 1]
        page_rows = OcrPage.objects.filter(task_id__in=ids)  # type: ignore[misc]  # UUID strings
        unique_pages = page_rows.values("task_id", "index").distinct().count()
        if failed or twice or page_rows.count() != pages or unique_pages != pages:
            problems.append(
                f"{count} worker(s): {failed} not completed, {len(twice)} tasks claimed != once, "
                f"{page_rows.count()} page rows ({unique_pages} unique) for {pages} pages"
            )
        rates[count].append(pages / seconds)
    single = statistics.median(rates[1])
    double = statistics.median(rates[2])
    for count, rate in ((1, single), (2, double)):
        ctx.add(
            Row(
                figure=FIGURE,
                backend=ctx.backend,
                case=f"{count} worker process{'es' if count > 1 else ''}, {pages} pages",
                unit="pages/s",
                value=rate,
                value_label="pages/s",
                target="report; no page processed twice",
                ok=not problems,
                samples=len(rates[count]),
                note=(f"speed-up {double / single:.2f}x; " if count == 2 else "")
                + ("; ".join(problems) if problems else "each task claimed once, pages unique")
                + f"; OMP_THREAD_LIMIT={os.environ.get('OMP_THREAD_LIMIT', 'unset')}",
            )
        )
