"""The audit stream shipped by Debian's rsyslog (imfile -> omfile): N produced = N shipped.

rsyslogd runs in the foreground with a configuration of its own (work directory, state
files, no system inputs), reading the sink file the sealer's streamer writes. Events
come from real HTTP requests; rsyslog is restarted mid-way, and the sealer is replaced
mid-way by another holder that takes over its lease after a round that wrote lines but
never committed its position (as a sealer killed at that moment leaves it).
"""

import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from django.db import transaction
from django.test import Client

from audit.lease import LeaseHolder
from audit.models import AuditEvent, AuditStreamPosition
from audit.sealing.batches import seal_pending
from audit.siem.streamer import stream_pending
from audit.tests.fixtures import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)

RSYSLOGD = shutil.which("rsyslogd") or "/usr/sbin/rsyslogd"
CONFIG = """
global(workDirectory="{work}" maxMessageSize="64k")
module(load="imfile" mode="polling" pollingInterval="1")
input(type="imfile" file="{sink}" tag="ocr-audit" persistStateInterval="1")
template(name="line" type="string" string="%msg%\\n")
action(type="omfile" file="{shipped}" template="line")
"""


class Rsyslog:
    def __init__(self, directory: Path, sink: Path) -> None:
        self.directory = directory
        self.work = directory / "work"
        self.work.mkdir()
        self.shipped = directory / "shipped.log"
        self.config = directory / "rsyslog.conf"
        self.config.write_text(CONFIG.format(work=self.work, sink=sink, shipped=self.shipped))
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        pidfile = self.directory / "rsyslogd.pid"
        pidfile.unlink(missing_ok=True)
        self.process = subprocess.Popen(
            [RSYSLOGD, "-n", "-f", str(self.config), "-i", str(pidfile)],
            stdout=subprocess.DEVNULL,
            stderr=(self.directory / "rsyslogd.err").open("ab"),
        )

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)
            self.process = None

    def lines(self) -> list[str]:
        return self.shipped.read_text().splitlines() if self.shipped.exists() else []


_addresses = iter(range(1, 250))


def sealer_round(lease: LeaseHolder) -> None:
    """One round of the sealer's loop under `lease`: seal, then stream (audit/sealing/loop.py)."""
    seal_pending(lease=lease)
    stream_pending(lease=lease)


def log_in(_client: Client, username: str, password: str) -> None:
    # Each sign-in from an address of its own: the per-address throttle would refuse some.
    client = Client(REMOTE_ADDR=f"203.0.113.{next(_addresses)}")
    client.post("/accounts/login/", {"username": username, "password": password})
    client.post(
        "/api/v2/auth/login",
        {"username": username, "password": password},
        content_type="application/json",
    )


def test_every_event_is_shipped_once_across_rsyslog_and_sealer_restarts(
    settings, tmp_path, make_user, fresh_cache
):
    assert Path(RSYSLOGD).exists(), "rsyslog is a system package (.ci/system-packages.sh)"
    sink = tmp_path / "audit-stream.log"
    settings.AUDIT_STREAM = f"file:{sink}"
    settings.AUDIT_SEALER_LEASE_SECONDS = 0.5
    make_user(username="alice")
    shipper = Rsyslog(tmp_path, sink)
    shipper.start()
    first_sealer = LeaseHolder(holder="sealer-a")
    try:
        client = Client(REMOTE_ADDR="203.0.113.9")
        for _ in range(5):
            log_in(client, "alice", PASSWORD)
            log_in(client, "alice", "wrong")
        sealer_round(first_sealer)

        shipper.stop()  # the shipper restarts while events keep coming
        for _ in range(5):
            log_in(client, "alice", "wrong")
        sealer_round(first_sealer)
        shipper.start()

        # sealer-a writes a batch and dies before committing its position...
        for _ in range(3):
            log_in(client, "alice", PASSWORD)
        before = AuditStreamPosition.objects.get().sequence
        sealer_round(first_sealer)
        AuditStreamPosition.objects.update(sequence=before)
        # ...and sealer-b takes the lease over once it expired, on the same host.
        time.sleep(0.6)
        second_sealer = LeaseHolder(holder="sealer-b")
        for _ in range(4):
            log_in(client, "alice", "wrong")
        sealer_round(second_sealer)
        with transaction.atomic():
            assert not first_sealer.hold()  # fenced out

        produced = list(AuditEvent.objects.order_by("sequence").values_list("sequence", "hash"))
        deadline = time.monotonic() + 60
        while len(shipper.lines()) < len(produced) and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(1.5)  # a line more than produced would show up here
    finally:
        shipper.stop()
    shipped = [json.loads(line) for line in shipper.lines()]
    assert len(produced) >= 30
    assert [(d["sequence"], d["hash"]) for d in shipped] == produced  # no gap, no duplicate
    assert {d["process"]["role"] for d in shipped} == {"sealer"}
