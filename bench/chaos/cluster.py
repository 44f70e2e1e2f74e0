"""The hosts' processes: PostgreSQL, moto's S3 server, haproxy, gunicorn, workers, sealers."""

import contextlib
import glob
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.chaos import netns

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable
BIN = Path(sys.executable).parent
SITE = "ocr.chaos.test"
DB_PASSWORD = secrets.token_urlsafe(16)
PG_BIN = Path(
    sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[4]))[-1]
)
FAKETIME_LIB = next(iter(glob.glob("/usr/lib/*/faketime/libfaketime.so.1")), "")


@dataclass
class Cluster:
    base: Path
    env: dict[str, str] = field(default_factory=dict)
    processes: dict[str, list[subprocess.Popen]] = field(default_factory=dict)

    # -- processes -----------------------------------------------------------

    def start(self, host: str, name: str, command: list[str], env: dict | None = None):
        log = open(self.base / "logs" / f"{host}-{name}.log", "ab")  # noqa: SIM115
        process = subprocess.Popen(
            netns.in_host(host, command),
            cwd=ROOT,
            env=env if env is not None else self.host_env(host),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        process.chaos_name = name  # type: ignore[attr-defined]
        self.processes.setdefault(host, []).append(process)
        return process

    def kill_host(self, host: str, sig: int = signal.SIGKILL) -> None:
        processes = self.processes.pop(host, [])
        for process in processes:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, sig)
        deadline = time.monotonic() + 20
        for process in processes:
            process.wait(max(0.1, deadline - time.monotonic()))

    def alive(self, host: str) -> dict[str, bool]:
        return {p.chaos_name: p.poll() is None for p in self.processes.get(host, [])}  # type: ignore[attr-defined]

    def stop_all(self) -> None:
        for host in list(self.processes):
            for process in self.processes[host]:
                if process.poll() is None:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(process.pid, signal.SIGKILL)
            for process in self.processes[host]:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(10)
        self.processes.clear()
        self.pg_ctl("stop", "-m", "immediate", check=False)

    def manage(self, host: str, *args: str, check: bool = True, env: dict | None = None):
        return subprocess.run(
            netns.in_host(host, [PY, "manage.py", *args]),
            cwd=ROOT,
            env=env or self.host_env(host),
            capture_output=True,
            text=True,
            check=check,
            timeout=300,
        )

    # -- environment (README, Deployment, step 3) ----------------------------

    def shared_env(self) -> dict[str, str]:
        keep = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "HOME", "TERM")}
        return {
            **keep,
            "DEBUG": "0",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "AUDIT_SIGNING_KEY": secrets.token_urlsafe(50),
            "AUDIT_CHAIN_KEYS": f"k1:{secrets.token_urlsafe(50)}",
            "ALLOWED_HOSTS": SITE,
            "CSRF_TRUSTED_ORIGINS": f"https://{SITE}",
            "TRUSTED_PROXY_COUNT": "1",
            "SECURE_SSL_REDIRECT": "1",
            "SECURE_PROXY_SSL_HEADER": "1",
            "SECURE_COOKIES": "1",
            "SECURE_HSTS_SECONDS": "31536000",
            "DATABASE_URL": f"postgres://ocr:{DB_PASSWORD}@{netns.address('db')}:5432/ocr",
            "DB_CONN_MAX_AGE": "60",
            "FILE_STORAGE_BACKEND": "storages.backends.s3.S3Storage",
            "AWS_STORAGE_BUCKET_NAME": "ocr-documents",
            "AWS_S3_ENDPOINT_URL": f"http://{netns.address('s3')}:9000",
            "AWS_S3_REGION_NAME": "eu-central-1",
            "AWS_ACCESS_KEY_ID": "chaos",
            "AWS_SECRET_ACCESS_KEY": secrets.token_urlsafe(20),
            # The off-machine mount both worker hosts sign into (one folder here).
            "AUDIT_CHECKPOINT_DIR": str(self.base / "checkpoint-mount"),
            "AUDIT_LOG_ORIGIN": f"{SITE}/ocr-audit",
            "STATIC_ROOT": str(self.base / "static"),
            # Not the README's: the suite's clients share one address (the bridge) and
            # must not be throttled; a reclaim within the run (the default is 60 s).
            "AUTH_THROTTLE_RATE": "6000/min",
            "REFRESH_THROTTLE_RATE": "6000/min",
            "UPLOAD_THROTTLE_RATE": "6000/min",
            "OCR_STALE_AFTER_SECONDS": "20",
            "OCR_PAGE_PROCESSES": "1",
            "PYTHONUNBUFFERED": "1",
        }

    def host_env(self, host: str) -> dict[str, str]:
        home = self.base / "hosts" / host
        return {
            **self.env,
            "VAR_DIR": str(home),
            "OCR_STAGING_DIR": str(home / "staging"),
            "AUDIT_CHECKPOINT_SIGNER_KEY_FILE": str(self.base / "signer.key"),
        }

    # -- PostgreSQL in the db namespace --------------------------------------

    def pg_ctl(self, *args: str, check: bool = True):
        data = self.base / "pg" / "data"
        return subprocess.run(
            netns.in_host(
                "db",
                [
                    "runuser",
                    "-u",
                    "postgres",
                    "--",
                    str(PG_BIN / "pg_ctl"),
                    "-D",
                    str(data),
                    "-l",
                    str(self.base / "pg" / "server.log"),
                    "-w",
                    "-t",
                    "60",
                    *args,
                ],
            ),
            capture_output=True,
            text=True,
            check=check,
        )

    def start_database(self) -> None:
        pg = self.base / "pg"
        (pg / "sock").mkdir(parents=True)
        (pg / "pw").write_text(DB_PASSWORD)
        shutil.chown(pg, "postgres")
        shutil.chown(pg / "sock", "postgres")
        shutil.chown(pg / "pw", "postgres")
        subprocess.run(
            [
                "runuser",
                "-u",
                "postgres",
                "--",
                str(PG_BIN / "initdb"),
                "-D",
                str(pg / "data"),
                "-U",
                "ocr",
                "--pwfile",
                str(pg / "pw"),
                "--auth-host=scram-sha-256",
                "--auth-local=trust",
                "-E",
                "UTF8",
            ],
            check=True,
            capture_output=True,
        )
        with open(pg / "data" / "postgresql.conf", "a") as conf:
            conf.write(
                f"listen_addresses = '{netns.address('db')}'\nport = 5432\n"
                f"unix_socket_directories = '{pg / 'sock'}'\nfsync = off\nmax_connections = 200\n"
            )
        with open(pg / "data" / "pg_hba.conf", "a") as hba:
            hba.write(f"host all all {netns.SUBNET}.0/24 scram-sha-256\n")
        self.pg_ctl("start")
        subprocess.run(
            netns.in_host(
                "db",
                [
                    "runuser",
                    "-u",
                    "postgres",
                    "--",
                    str(PG_BIN / "createdb"),
                    "-h",
                    str(pg / "sock"),
                    "-U",
                    "ocr",
                    "ocr",
                ],
            ),
            check=True,
            capture_output=True,
        )

    # -- the bucket, the load balancer ---------------------------------------

    def start_bucket(self) -> None:
        self.start(
            "s3",
            "moto",
            [str(BIN / "moto_server"), "-H", netns.address("s3"), "-p", "9000"],
            env={**self.env},
        )
        wait_port(netns.address("s3"), 9000)
        import boto3  # type: ignore[import-untyped]

        boto3.client(
            "s3",
            endpoint_url=self.env["AWS_S3_ENDPOINT_URL"],
            region_name="eu-central-1",
            aws_access_key_id="chaos",
            aws_secret_access_key=self.env["AWS_SECRET_ACCESS_KEY"],
        ).create_bucket(
            Bucket="ocr-documents",
            CreateBucketConfiguration={"LocationConstraint": "eu-central-1"},
        )

    def start_balancer(self) -> None:
        """haproxy with docs/deploy/haproxy.cfg, only the names and the cert path replaced."""
        pem = self.base / "site.pem"
        subprocess.run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "1",
                "-subj",
                f"/CN={SITE}",
                "-addext",
                f"subjectAltName=DNS:{SITE}",
                "-keyout",
                str(self.base / "site.key"),
                "-out",
                str(self.base / "site.crt"),
            ],
            check=True,
            capture_output=True,
        )
        pem.write_bytes(
            (self.base / "site.crt").read_bytes() + (self.base / "site.key").read_bytes()
        )
        config = (ROOT / "docs" / "deploy" / "haproxy.cfg").read_text()
        for old, new in {
            "/etc/haproxy/certs/ocr.example.com.pem": str(pem),
            "ocr.example.com": SITE,
            "web1:8000": f"{netns.address('web1')}:8000",
            "web2:8000": f"{netns.address('web2')}:8000",
        }.items():
            assert old in config, f"docs/deploy/haproxy.cfg no longer has {old!r}"
            config = config.replace(old, new)
        (self.base / "haproxy.cfg").write_text(config)
        self.start(
            "lb",
            "haproxy",
            ["haproxy", "-db", "-f", str(self.base / "haproxy.cfg")],
            env={"PATH": os.environ["PATH"]},
        )
        wait_port(netns.address("lb"), 443)

    # -- web and worker hosts (README, Deployment, steps 5-7) ----------------

    def start_web(self, host: str, *, clock_ahead: int = 0) -> None:
        env = self.host_env(host)
        if clock_ahead:
            # libfaketime: this host's wall clock only; namespaces cannot step CLOCK_REALTIME.
            # Monotonic time is shifted too: with FAKETIME_DONT_FAKE_MONOTONIC, Python's
            # time.sleep fails with EINVAL (libfaketime 0.9.10) and gunicorn's workers die.
            env.update(LD_PRELOAD=FAKETIME_LIB, FAKETIME=f"+{clock_ahead}")
        self.start(
            host,
            "gunicorn",
            [
                str(BIN / "gunicorn"),
                "ocr_project.wsgi",
                "--bind",
                "0.0.0.0:8000",
                "--workers",
                "2",
                "--access-logfile",
                "-",
            ],
            env=env,
        )
        wait_port(netns.address(host), 8000)

    def start_worker(self, host: str) -> None:
        self.start(host, "ocr_worker", [PY, "manage.py", "ocr_worker", "--no-reload"])
        self.start(host, "audit_sealer", [PY, "manage.py", "audit_sealer"])


def wait_port(host: str, port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection((host, port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"nothing listens on {host}:{port} after {timeout:g} s")
