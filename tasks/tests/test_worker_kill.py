"""A worker killed mid-document under `make run`'s supervisor: nothing stalls for long.

The real processes: the supervisor starts gunicorn and `manage.py ocr_worker` on a
throwaway database (SQLite file, or PostgreSQL when DATABASE_URL names it). The test
SIGKILLs the worker after its first page; the supervisor starts a new one, the site keeps
answering, and the new worker's heartbeat takes the task back and reads it to the end,
starting at the first page the killed worker had not stored.
"""

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from audit.tests.fixtures import PASSWORD

from .live_site import BASE_DIR, LiveSite, free_port, throwaway_database
from .scan_corpus import character_error_rate, rotated, upright_page

STALE_AFTER_SECONDS = 4
PAGES = 6
TIMEOUT = 240

CREATE_TASK = """
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from tasks.services.creation import task_create_batch
owner = get_user_model().objects.get(username="alice")
data = open({path!r}, "rb").read()
upload = SimpleUploadedFile("scans.pdf", data, content_type="application/pdf")
[task] = task_create_batch(owner=owner, uploads=[upload], engine="tesseract", language="eng")
print("TASK", task.pk)
"""

OBSERVE = """
import json
from audit.models import AuditEvent
from django_tasks_db.models import DBTaskResult
from tasks.models import OcrTask
task = OcrTask.objects.get(pk={task_id!r})
print("STATE", json.dumps({{
    "status": task.status,
    "pages_done": task.pages_done,
    "pages": list(task.pages.order_by("index").values_list("index", flat=True)),
    "rotations": list(task.pages.order_by("index").values_list("rotation", flat=True)),
    "read_by": list(task.pages.order_by("index").values_list("attempt", flat=True)),
    "kept": [
        event.metadata["pages_kept"]
        for event in AuditEvent.objects.filter(
            event_type="task_process", resource_id=str(task.pk)
        ).order_by("sequence")
    ],
    "reclaims": AuditEvent.objects.filter(
        event_type="task_reclaim", resource_id=str(task.pk)
    ).count(),
    "running_jobs": DBTaskResult.objects.filter(status="RUNNING").count(),
    "text": task.result_text,
    "searchable_pdf": bool(task.searchable_pdf),
}}))
"""


def manage_output(site: LiveSite, env: dict, script: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", script],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return result.stdout


def observe(site: LiveSite, env: dict, task_id: str) -> dict:
    output = manage_output(site, env, OBSERVE.format(task_id=task_id))
    return json.loads(output.split("STATE ", 1)[1])


def progress(*, var_dir: Path, database_url: str | None, task_id: str) -> tuple[str, int]:
    """Return the task's (status, pages_done), read straight from the site's database."""
    # Straight SQL, not `manage.py shell`: that takes seconds, and the kill must land
    # while the document is still being read.
    if database_url is None:
        import sqlite3

        with sqlite3.connect(var_dir / "db.sqlite3", timeout=30) as connection:
            row = connection.execute(
                "SELECT status, pages_done FROM tasks_ocrtask WHERE id = ?",
                (task_id.replace("-", ""),),
            ).fetchone()
    else:
        import psycopg

        with psycopg.connect(database_url) as connection:
            row = connection.execute(
                "SELECT status, pages_done FROM tasks_ocrtask WHERE id = %s", (task_id,)
            ).fetchone()
    return row[0], row[1]


def worker_pids(log: Path) -> list[int]:
    return [int(pid) for pid in re.findall(r"OCR worker started \(pid (\d+)\)", log.read_text())]


def wait_for(condition, *, what: str, log: Path, timeout: float = TIMEOUT, poll: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(poll)
    tail = log.read_text()[-3000:]
    raise AssertionError(f"timed out waiting for {what}; supervisor log:\n{tail}")


def pid_alive(pid: int) -> bool:
    """Return True while `pid` runs (a zombie, reaped by the supervisor soon, counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def serving(url: str) -> bool:
    with urllib.request.urlopen(f"{url}/accounts/login/", timeout=10) as reply:  # noqa: S310
        return reply.status == 200


@pytest.mark.django_db
def test_killed_worker_is_restarted_and_its_task_completes_once(tmp_path):
    pages = [upright_page(seed=500 + n, font="Liberation Serif", dpi=300) for n in range(PAGES)]
    images = [image for image, _ in pages]
    images[2] = rotated(images[2], 1)  # fed in sideways: read upright all the same
    document = tmp_path / "scans.pdf"
    first, *rest = (image.convert("RGB") for image in images)
    first.save(document, format="PDF", save_all=True, append_images=rest, resolution=300)

    with (
        tempfile.TemporaryDirectory(prefix="ocr-kill-") as var_dir,
        throwaway_database(os.environ.get("DATABASE_URL")) as database_url,
    ):
        site = LiveSite(var_dir=Path(var_dir), log_dir=tmp_path, database_url=database_url)
        site.prepare(users=[("alice", False)], password=PASSWORD)
        env = {**site.env(), "OCR_STALE_AFTER_SECONDS": str(STALE_AFTER_SECONDS)}
        port = free_port()
        log = tmp_path / "supervisor.log"
        with log.open("ab") as handle:
            supervisor = subprocess.Popen(
                [sys.executable, "-m", "ocr_project.supervisor", "--port", str(port)],
                cwd=BASE_DIR,
                env=env,
                stdout=handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        url = f"http://127.0.0.1:{port}"
        try:
            [first_worker] = wait_for(lambda: worker_pids(log), what="the worker", log=log)
            task_id = manage_output(site, env, CREATE_TASK.format(path=str(document)))
            task_id = task_id.split("TASK ", 1)[1].strip()
            where = {"var_dir": Path(var_dir), "database_url": database_url, "task_id": task_id}
            status = wait_for(
                lambda: (state := progress(**where))[1] >= 1 and state[0],
                what="the first page",
                log=log,
                poll=0.1,
            )
            assert status == "processing"

            os.kill(first_worker, signal.SIGKILL)
            # What the dead worker stored: it can store nothing more.
            stored_before_kill = wait_for(
                lambda: not pid_alive(first_worker) and progress(**where)[1],
                what="the killed worker to be gone",
                log=log,
            )

            wait_for(lambda: len(worker_pids(log)) == 2, what="a new worker", log=log)
            assert "OCR worker stopped (killed by SIGKILL)" in log.read_text()
            wait_for(lambda: serving(url), what="the web server", log=log)
            final = wait_for(
                lambda: (state := observe(site, env, task_id))["status"] == "completed" and state,
                what="the task to complete",
                log=log,
            )
        finally:
            os.killpg(supervisor.pid, signal.SIGTERM)
            supervisor.wait(timeout=60)

    assert final["pages"] == list(range(PAGES))
    # Resumed, not redone: the pages stored before the kill were read once, by attempt 1;
    # attempt 2 started at the first page not stored and read each of the rest once.
    assert 1 <= stored_before_kill < PAGES
    assert final["read_by"] == [1] * stored_before_kill + [2] * (PAGES - stored_before_kill)
    assert final["kept"] == [0, stored_before_kill]
    assert final["reclaims"] == 1
    assert final["running_jobs"] == 0
    assert final["searchable_pdf"]
    assert final["rotations"][2] == 270
    read = final["text"].split("\f")
    assert len(read) == PAGES
    for (_, expected), actual in zip(pages, read, strict=True):
        assert character_error_rate(expected=expected, actual=actual) <= 0.02
