"""Run the fault suite: build the hosts, load them, break them stage by stage, count.

    sudo .venv/bin/python -m bench.chaos      (make chaos)

Exits 1 when a promise broke (tally.judge), 2 when the suite itself could not run.
"""

import atexit
import http.client
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psycopg

from bench.chaos import netns, tally
from bench.chaos.clients import ChaosClient
from bench.chaos.cluster import DB_PASSWORD, SITE, Cluster

CLIENTS = 3
# Twice the sealer's 60 s writer-clock tolerance (audit/sealing/heads.py WRITER_CLOCK_TOLERANCE):
# the writer MAC's reading is the database's clock (audit/writer_clock.py), so the host's
# own clock may be off by more; with the host's clock every event it recorded was refused
# for good as "a copy of another event" and verify_audit_chain exited 1.
CLOCK_STEP = 120
STAGES = [
    "setup",
    "baseline",
    "web1 cut",
    "sealing worker host cut",
    "PostgreSQL restarted twice",
    "web2 staging full",
    f"web2 clock +{CLOCK_STEP} s",
    "drained",
]


def log(message: str) -> None:
    print(f"[chaos {time.strftime('%H:%M:%S')}] {message}", flush=True)


class Suite:
    def __init__(self, base: Path) -> None:
        self.cluster = Cluster(base)
        self.clients: list[ChaosClient] = []
        self.stop = threading.Event()
        self.windows: list[tuple[float, float]] = []
        self.verify: dict[str, int] = {}
        self.notes: dict[str, str] = {}
        self.broken: list[str] = []
        self.takeover: float | None = None

    def sql(self, query: str, *params):
        url = self.cluster.env["DATABASE_URL"]
        for attempt in range(30):
            try:
                with psycopg.connect(url, connect_timeout=3) as connection:
                    return connection.execute(query, params).fetchall()
            except psycopg.OperationalError:
                if attempt == 29:
                    raise
                time.sleep(1)
        return []

    # -- setup -----------------------------------------------------------------

    def build(self) -> None:
        base = self.cluster.base
        for folder in ("logs", "hosts", "checkpoint-mount", "static"):
            (base / folder).mkdir()
        netns.create()
        self.cluster.env = self.cluster.shared_env()
        log("PostgreSQL in the db namespace, moto's S3 server in s3")
        self.cluster.start_database()
        self.cluster.start_bucket()
        log("once, from worker1: migrate, createcachetable, collectstatic, signer key, users")
        self.cluster.manage("worker1", "migrate", "--noinput")
        self.cluster.manage("worker1", "createcachetable")
        self.cluster.manage("worker1", "collectstatic", "--noinput", "--verbosity", "0")
        key = self.cluster.manage("worker1", "audit_keys", "--if-missing").stdout.strip()
        self.cluster.env["AUDIT_CHECKPOINT_VERIFIER_KEYS"] = key
        script = ";".join(
            f"User.objects.create_user('chaos{i}', password='chaos-pass-{i}-{DB_PASSWORD}')"
            for i in range(CLIENTS)
        )
        self.cluster.manage(
            "worker1", "shell", "-c", f"from django.contrib.auth.models import User;{script}"
        )
        check = self.cluster.manage("web1", "check", "--deploy", check=False)
        self.notes["baseline"] = "check --deploy: " + (
            " ".join(w for w in ("W021",) if w in check.stderr + check.stdout) or "silent"
        )
        log("web1, web2 (gunicorn), worker1, worker2 (ocr_worker + audit_sealer), haproxy")
        for host in ("web1", "web2"):
            self.cluster.start_web(host)
            warm_up(host)
        for host in ("worker1", "worker2"):
            self.cluster.start_worker(host)
        self.cluster.start_balancer()
        time.sleep(11)  # haproxy: two good health checks (rise 2, inter 5 s)

    def start_clients(self) -> None:
        for i in range(CLIENTS):
            client = ChaosClient(
                cafile=str(self.cluster.base / "site.crt"),
                index=i,
                username=f"chaos{i}",
                password=f"chaos-pass-{i}-{DB_PASSWORD}",
                stop=self.stop,
                seed=i,
            )
            self.clients.append(client)
            client.start()

    def stage(self, name: str) -> None:
        log(f"stage: {name}")
        ChaosClient.stage = name

    def verify_now(self, name: str, host: str = "web1") -> None:
        done = self.cluster.manage(host, "verify_audit_chain", check=False)
        self.verify[name] = done.returncode
        if done.returncode:
            log(
                f"verify_audit_chain on {host}: exit {done.returncode}: "
                f"{(done.stderr or done.stdout).strip()[-300:]}"
            )

    def check_alive(self, name: str) -> None:
        for host in ("web1", "web2", "worker1", "worker2"):
            dead = [p for p, up in self.cluster.alive(host).items() if not up]
            if dead:
                self.broken.append(f"{name}: {host} lost {', '.join(dead)}")

    # -- stages ----------------------------------------------------------------

    def baseline(self) -> None:
        self.stage("baseline")
        time.sleep(15)
        self.verify_now("baseline")

    def cut_web(self) -> None:
        self.stage("web1 cut")
        netns.cut("web1")
        time.sleep(15)
        netns.restore("web1")
        time.sleep(12)  # back in haproxy's pool
        self.verify_now("web1 cut")

    def cut_sealing_host(self) -> None:
        name = "sealing worker host cut"
        self.stage(name)
        time.sleep(3)
        holder = self.sql("SELECT holder FROM audit_auditlease WHERE name = 'sealer'")[0][0]
        pid = int(holder.split(":")[1])
        host = next(
            h
            for h in ("worker1", "worker2")
            if any(p.pid == pid or _child_of(pid, p.pid) for p in self.cluster.processes.get(h, []))
        )
        other = "worker2" if host == "worker1" else "worker1"
        cut_at = self.sql("SELECT clock_timestamp()")[0][0]
        started = time.monotonic()
        netns.cut(host)
        self.cluster.kill_host(host)
        while time.monotonic() - started < 60:
            sealed = self.sql(
                "SELECT count(*) FROM audit_auditevent WHERE sequence IS NOT NULL "
                "AND timestamp > %s",
                cut_at,
            )[0][0]
            if sealed:
                self.takeover = time.monotonic() - started
                break
            time.sleep(0.2)
        now_holder = self.sql("SELECT holder FROM audit_auditlease WHERE name = 'sealer'")[0][0]
        self.notes[name] = f"{host} held the lease; now {other} (pid {now_holder.split(':')[1]})"
        if self.takeover is None or self.takeover > 15:
            self.broken.append(f"{name}: no takeover within 15 s ({self.takeover})")
        netns.restore(host)
        self.cluster.start_worker(host)  # what Restart=always does when the host is back
        time.sleep(5)
        self.verify_now(name, "web2")

    def restart_database(self) -> None:
        name = "PostgreSQL restarted twice"
        self.stage(name)
        for _ in range(2):
            time.sleep(6)
            start = time.monotonic()
            self.cluster.pg_ctl("restart", "-m", "fast")
            self.windows.append((start, time.monotonic() + 3))
        time.sleep(10)
        self.check_alive(name)
        self.verify_now(name)

    def fill_staging(self) -> None:
        """Fill web2's OCR_STAGING_DIR: a 2 MB tmpfs mounted over it, then filled up."""
        name = "web2 staging full"
        self.stage(name)
        staging = self.cluster.base / "hosts" / "web2" / "staging"
        staging.mkdir(parents=True, exist_ok=True)
        # In gunicorn's own mount namespace (ip netns exec gives each command one).
        enter = ["nsenter", "-t", str(self.cluster.processes["web2"][0].pid), "-m", "--"]
        subprocess.run(
            [*enter, "mount", "-t", "tmpfs", "-o", "size=2m,mode=700", "tmpfs", str(staging)],
            check=True,
        )
        try:
            subprocess.run(
                [*enter, "dd", "if=/dev/zero", f"of={staging}/fill", "bs=64k"], capture_output=True
            )
            time.sleep(15)
            leftovers = subprocess.run(
                [*enter, "ls", "-A", str(staging)], capture_output=True, text=True
            ).stdout.split()
        finally:
            subprocess.run([*enter, "umount", "-l", str(staging)], check=False)
        self.notes[name] = (
            f"tmpfs of 2 MB over OCR_STAGING_DIR; {len(leftovers) - 1} staging files left in it"
        )
        self.verify_now(name)

    def step_clock(self) -> None:
        name = f"web2 clock +{CLOCK_STEP} s"
        self.stage(name)
        # Restarting gunicorn under load, undrained, resets what waits in its backlog
        # (haproxy answers 502): each restart is a window, as a database restart is.
        for clock_ahead, stay in ((CLOCK_STEP, 20), (0, 11)):
            start = time.monotonic()
            self.cluster.kill_host("web2", signal.SIGTERM)
            self.cluster.start_web("web2", clock_ahead=clock_ahead)
            warm_up("web2")
            self.windows.append((start, time.monotonic() + 1))
            time.sleep(stay)
        self.verify_now(name)

    def drain(self) -> tally.Verdict:
        self.stage("drained")
        self.stop.set()
        for client in self.clients:
            client.join(60)
            if client.crash:
                self.broken.append(f"client {client.index} crashed: {client.crash[-300:]}")
        submitted = {t for c in self.clients for t in c.submitted}
        deadline = time.monotonic() + 120
        rows = []
        while time.monotonic() < deadline:
            rows = self.sql("SELECT id::text, status, attempts FROM tasks_ocrtask")
            if all(status in ("completed", "failed") for _, status, _ in rows):
                break
            time.sleep(2)
        time.sleep(3)
        self.verify_now("drained", "web2")
        events = self.sql(
            "SELECT metadata->>'client_request_id', event_type || ' ' || outcome || "
            "CASE WHEN event_type IN ('auth_login', 'auth_logout') "
            "THEN ' (' || coalesce(metadata->>'method', '?') || ')' ELSE '' END "
            "FROM audit_auditevent WHERE metadata ? 'client_request_id'"
        )
        exchanges = [e for c in self.clients for e in c.exchanges]
        stages = tally.count_stages(exchanges, events, self.windows, STAGES)
        for stage in stages:
            stage.verify_exit = self.verify.get(stage.stage)
            stage.note = self.notes.get(stage.stage, "")
        status = {task: (s, a) for task, s, a in rows}
        mine = [status.get(t, ("missing", 0)) for t in submitted]
        return tally.Verdict(
            stages=stages,
            tasks_submitted=len(submitted),
            tasks_completed=sum(s == "completed" for s, _ in mine),
            tasks_failed=sum(s == "failed" for s, _ in mine),
            tasks_stuck=sum(s not in ("completed", "failed") for s, _ in mine),
            tasks_reclaimed=sum(a > 1 for _, a in mine),
            takeover_seconds=self.takeover,
            broken=self.broken,
        )

    def teardown(self) -> None:
        self.stop.set()
        self.cluster.stop_all()
        netns.remove()
        shutil.rmtree(self.cluster.base, ignore_errors=True)


def warm_up(host: str) -> None:
    """Load the app in each gunicorn worker before haproxy checks it.

    A cold worker's first request imports the whole project; on a loaded 2-core host
    that took longer than the check's timeout (inter, 5 s), and haproxy marked both
    hosts down at once and answered 503.
    """
    answered, deadline = 0, time.monotonic() + 90
    while answered < 6 and time.monotonic() < deadline:
        connection = http.client.HTTPConnection(netns.address(host), 8000, timeout=60)
        try:
            connection.request("GET", "/healthz", headers={"Host": SITE})
            connection.getresponse().read()
            answered += 1
        except OSError:
            time.sleep(0.5)
        finally:
            connection.close()


def _child_of(pid: int, parent: int) -> bool:
    """Return whether pid is a descendant of parent (ip netns exec execs, so usually equal)."""
    try:
        while pid > 1:
            stat = Path(f"/proc/{pid}/stat").read_text()
            pid = int(stat.rsplit(")", 1)[1].split()[1])
            if pid == parent:
                return True
    except (OSError, ValueError):
        return False
    return False


def main() -> int:
    import os

    if os.geteuid() != 0:
        print("make chaos runs as root (network namespaces, tmpfs, PostgreSQL as postgres).")
        return 2
    base = Path(tempfile.mkdtemp(prefix="chaos-", dir=os.environ.get("VAR_DIR") or None))
    base.chmod(0o755)
    suite = Suite(base)
    atexit.register(suite.teardown)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(130))
    keep_logs = Path(__file__).resolve().parents[2] / "var" / "chaos-logs"
    try:
        suite.build()
        suite.start_clients()
        suite.baseline()
        suite.cut_web()
        suite.cut_sealing_host()
        suite.restart_database()
        suite.fill_staging()
        suite.step_clock()
        verdict = suite.drain()
    except (subprocess.CalledProcessError, RuntimeError) as error:
        detail = getattr(error, "stderr", "") or ""
        print(f"The fault suite could not run: {error} {detail}", file=sys.stderr)
        _keep(base, keep_logs)
        return 2
    finally:
        _keep(base, keep_logs)
    print()
    print(tally.markdown(verdict))
    broken = tally.judge(verdict)
    print()
    print("Promises broken:\n- " + "\n- ".join(broken) if broken else "Every promise kept.")
    return 1 if broken else 0


def _keep(base: Path, target: Path) -> None:
    if (base / "logs").exists():
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(base / "logs", target, dirs_exist_ok=True)


if __name__ == "__main__":
    sys.exit(main())
