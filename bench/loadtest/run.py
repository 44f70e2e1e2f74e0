"""One database's run: migrate, add users, load it through gunicorn, judge what it recorded."""

import argparse
import json
import os
import secrets
import subprocess
import sys
import threading
import time

from bench.loadtest.checks import (
    compare_events,
    compare_stream,
    judge,
    scan_secrets,
    scan_server_log,
    verify_chain,
)
from bench.loadtest.clients import LoadClient
from bench.loadtest.events import TASK_CREATE, TASK_DELETE, USER_CREATE
from bench.loadtest.exchanges import Exchange
from bench.loadtest.results import RunResult, summarise_requests
from bench.loadtest.server import MANAGE, ROOT, LoadError, Server, Target, manage_ok

# Run inside `manage.py shell -c`: write every column of every audit row as text.
DUMP_SNIPPET = """
import json, os
from django.db import connection
from audit.models import AuditEvent
from tasks.models import OcrTask
def as_text(value):
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return str(value)
with connection.cursor() as cursor:
    cursor.execute("SELECT * FROM " + connection.ops.quote_name(AuditEvent._meta.db_table))
    columns = [column[0] for column in cursor.description]
    rows = [[as_text(value) for value in row] for row in cursor.fetchall()]
with open(os.environ["LOAD_DUMP_PATH"], "w") as out:
    json.dump({"columns": columns, "rows": rows, "tasks": OcrTask.objects.count()}, out)
"""

SETUP_SNIPPET = """
import json, os
from django.contrib.auth import get_user_model
from django.core.management import call_command
call_command("createcachetable")
User = get_user_model()
for item in json.loads(os.environ["LOAD_USERS"]):
    User.objects.create_user(username=item["username"], password=item["password"])
"""


def run_one(target: Target, options: argparse.Namespace, static_job: subprocess.Popen) -> RunResult:
    """Set up the target, load it through gunicorn, stop it and judge what it recorded."""
    started = time.monotonic()
    manage_ok(target.env, "migrate", "--noinput", "--verbosity", "0")
    # The checkpoint signer's key, as `make setup` creates it.
    manage_ok(target.env, "audit_keys", "--if-missing")
    users = [
        {"username": f"load-user-{index:03d}", "password": secrets.token_urlsafe(18)}
        for index in range(options.users)
    ]
    # Creating the accounts is audited too (user_create, via: shell): their events and SIEM
    # lines are part of what is judged, as the setup's own exchange.
    manage_ok(target.env, "shell", "-c", SETUP_SNIPPET, extra={"LOAD_USERS": json.dumps(users)})
    setup = Exchange(
        action="setup",
        request_id="",
        status=None,
        latency=0.0,
        expected=[USER_CREATE] * len(users),
    )
    if static_job.poll() is None or static_job.returncode:
        output, _ = static_job.communicate(timeout=300)
        if static_job.returncode:
            raise LoadError(f"collectstatic failed:\n{output[-2000:]}")
    server = Server(target, workers=options.workers, threads=options.threads)
    result = RunResult(target.database, server.description, options.clients)
    result.fixed_work = options.iterations is not None
    stop = threading.Event()
    clients: list[LoadClient] = []
    try:
        server.start()
        print(
            f"  set up in {time.monotonic() - started:.1f} s; {server.description} on port "
            f"{server.port}; {options.clients} clients as {options.users} user(s) for "
            + (
                f"{options.iterations} actions each"
                if options.iterations
                else f"{options.seconds} s"
            ),
            flush=True,
        )
        # The audit sealer runs beside gunicorn, as `make run` starts it, and writes the
        # SIEM stream (AUDIT_STREAM) as it seals.
        sealer = start_sealer(target.env)
        load_started = time.monotonic()
        result.load_average.append(os.getloadavg()[0])
        deadline = None if options.iterations else load_started + options.seconds
        clients = [
            LoadClient(
                index=index,
                username=users[index % len(users)]["username"],
                password=users[index % len(users)]["password"],
                port=server.port,
                stop=stop,
                deadline=deadline,
                iterations=options.iterations,
                seed=options.seed * 1000 + index,
            )
            for index in range(options.clients)
        ]
        for client in clients:
            client.start()
        for client in clients:
            while client.is_alive():
                client.join(timeout=0.5)
        result.duration = time.monotonic() - load_started
        result.load_average.append(os.getloadavg()[0])
    finally:
        stop.set()
        server.stop()
        if "sealer" in locals():
            sealer.terminate()
            sealer.wait(timeout=60)
    # Whatever the last round left, sealed and streamed now.
    manage_ok(target.env, "audit_sealer", "--once")
    # ... and anchored: the tree head the worker would sign within
    # AUDIT_CHECKPOINT_EVERY_SECONDS, signed now, so verification is not "unanchored".
    manage_ok(target.env, "audit_checkpoint", "--tree-head")
    crashes = [client.crash for client in clients if client.crash]
    if crashes:
        raise LoadError(f"a load client crashed:\n{crashes[0]}")

    exchanges = [exchange for client in clients for exchange in client.exchanges]
    summarise_requests(result, exchanges)
    result.anomalies = [anomaly for client in clients for anomaly in client.anomalies]
    result.error_samples = [body for client in clients for body in client.error_bodies]
    result.locked_responses = sum(client.locked_responses for client in clients)

    dump_path = target.workdir / "audit-dump.json"
    manage_ok(target.env, "shell", "-c", DUMP_SNIPPET, extra={"LOAD_DUMP_PATH": str(dump_path)})
    dump = json.loads(dump_path.read_text())
    columns, raw_rows = dump["columns"], dump["rows"]
    rows = [dict(zip(columns, row, strict=True)) for row in raw_rows]
    result.rows = len(rows)
    compare_events(result, [*exchanges, setup], rows)
    compare_stream(result, server.stream_log, rows)
    scan_secrets(result, columns, raw_rows, clients)
    scan_server_log(result, server.error_log)
    result.tasks_in_db = dump["tasks"]
    created = sum(1 for e in exchanges for label in e.expected or [] if label == TASK_CREATE)
    deleted = sum(1 for e in exchanges for label in e.expected or [] if label == TASK_DELETE)
    result.tasks_expected = created - deleted
    verify_chain(result, target.env)
    judge(result)
    return result


def start_sealer(env: dict[str, str]) -> subprocess.Popen:
    """Start `manage.py audit_sealer`; it writes the SIEM stream to AUDIT_STREAM."""
    return subprocess.Popen(
        [sys.executable, str(MANAGE), "audit_sealer"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
