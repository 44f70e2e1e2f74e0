"""The bench's audit events, generated: a realistic mix, linked into a valid hash chain.

Events come in sequence order (mostly token refreshes and logins, uploads with their
worker events, a few admin and audit actions) from the users and client addresses they
are given. Each link is computed with audit.chain.event_hash under the chain key, exactly
as record_event does, so verify_audit_chain passes. Nothing here touches the database:
bench.seed writes what this yields.
"""

import ipaddress
import random
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from itertools import accumulate
from typing import Any

from audit.chain import GENESIS_HASH, event_hash, key_ring, normalise_metadata
from audit.events import EVENT_CATEGORIES
from audit.recording.client import valid_ip

USER_AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 Version/18.1 Safari",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 Mobile",
    "python-requests/2.32.3",
    "curl/8.11.0",
    "ocr-sync-client/3.4 (+linux)",
    "Splunk-SIEM-collector/9.3",
]

# (scenario, weight): each scenario emits one to four events sharing a request id.
SCENARIOS = [
    ("refresh", 30.0),
    ("login", 20.0),
    ("login_failed", 4.0),
    ("logout", 7.0),
    ("upload", 9.0),
    ("delete", 2.0),
    ("retry", 0.5),
    ("reclaim", 0.2),
    ("lockout", 0.3),
    ("audit_view", 1.0),
    ("audit_export", 0.2),
    ("admin_view_users", 0.1),
    ("admin_cleanup", 0.05),
]


def make_ips(count: int, rng: random.Random) -> list[str]:
    """Return `count` distinct addresses, one in ten IPv6, normalised as the service stores them."""
    ips: set[str] = set()
    while len(ips) < count:
        if rng.random() < 0.1:
            raw = str(ipaddress.IPv6Address((0x20010DB8 << 96) | rng.getrandbits(64)))
        else:
            raw = str(ipaddress.IPv4Address(rng.randrange(0x0B000000, 0xDF000000)))
        ip = valid_ip(raw)
        if ip:
            ips.add(ip)
    return sorted(ips)


def hex_id(rng: random.Random) -> str:
    return f"{rng.getrandbits(128):032x}"


def task_id(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


class EventStream:
    """Generate event field dicts (without sequence, timestamp or hashes) in order."""

    def __init__(
        self, *, rng: random.Random, users: list[tuple[int, str]], staff: tuple[int, str], ips
    ):
        self.rng = rng
        # A few users do most of the work, as in any real service.
        self.users = users
        self.user_weights = list(accumulate(1.0 / (rank + 10) for rank in range(len(users))))
        self.staff = staff
        self.ips = ips
        self.ip_weights = list(accumulate(1.0 / (rank + 20) for rank in range(len(ips))))
        self.names = [name for name, _ in SCENARIOS]
        self.weights = list(accumulate(weight for _, weight in SCENARIOS))
        self.recent_tasks: list[tuple[str, int, str]] = []

    def pick_user(self) -> tuple[int, str]:
        return self.rng.choices(self.users, cum_weights=self.user_weights)[0]

    def pick_ip(self) -> str:
        return self.rng.choices(self.ips, cum_weights=self.ip_weights)[0]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        rng = self.rng
        while True:
            scenario = rng.choices(self.names, cum_weights=self.weights)[0]
            yield from getattr(self, f"scenario_{scenario}")(rng)

    def base(self, event_type: str, *, user, ip, agent, request_id, **extra) -> dict[str, Any]:
        fields = {
            "event_type": event_type,
            "category": str(EVENT_CATEGORIES[event_type]),
            "outcome": "success",
            "user_id": user[0] if user else None,
            "username": user[1] if user else "",
            "ip_address": ip,
            "user_agent": agent,
            "request_id": request_id,
            "resource_type": "",
            "resource_id": "",
            "message": "",
            "metadata": {},
        }
        fields.update(extra)
        return fields

    def client(self, rng: random.Random) -> dict[str, Any]:
        return {
            "ip": self.pick_ip(),
            "agent": rng.choice(USER_AGENTS),
            "request_id": hex_id(rng),
        }

    def scenario_refresh(self, rng):
        yield self.base(
            "auth_token_refresh", user=self.pick_user(), **self.client(rng), metadata={}
        )

    def scenario_login(self, rng):
        method = rng.choice(["session", "jwt", "jwt"])
        yield self.base(
            "auth_login", user=self.pick_user(), **self.client(rng), metadata={"method": method}
        )

    def scenario_login_failed(self, rng):
        user = self.pick_user() if rng.random() < 0.7 else None
        name = user[1] if user else f"guess{rng.randrange(10_000)}"
        yield self.base(
            "auth_login",
            user=None,
            **self.client(rng),
            username=name,
            outcome="failure",
            message="Invalid username or password.",
            metadata={"method": rng.choice(["session", "jwt"]), "reason": "invalid_credentials"},
        )

    def scenario_logout(self, rng):
        yield self.base(
            "auth_logout", user=self.pick_user(), **self.client(rng), metadata={"method": "session"}
        )

    def scenario_lockout(self, rng):
        user = self.pick_user()
        yield self.base(
            "auth_lockout",
            user=None,
            username=user[1],
            **self.client(rng),
            outcome="failure",
            message="Too many failed logins; locked out.",
            metadata={"failures": 5},
        )

    def scenario_upload(self, rng):
        user = self.pick_user()
        client = self.client(rng)
        tid = task_id(rng)
        pages = rng.choice([1, 1, 1, 2, 3, 5, 12])
        engine = rng.choice(["tesseract", "tesseract", "rapidocr"])
        language = "eng" if engine == "tesseract" else "ch"
        size = rng.randrange(40_000, 8_000_000)
        yield self.base(
            "file_upload",
            user=user,
            **client,
            resource_type="file",
            resource_id=tid,
            metadata={
                "filename": f"scan-{rng.randrange(100_000)}.pdf",
                "size": size,
                "content_type": "application/pdf",
                "sha256": f"{rng.getrandbits(256):064x}",
                "pages": pages,
            },
        )
        yield self.base(
            "task_create",
            user=user,
            **client,
            resource_type="task",
            resource_id=tid,
            metadata={"engine": engine, "language": language, "pages": pages},
        )
        worker = {"ip": None, "agent": "", "request_id": client["request_id"]}
        yield self.base(
            "task_process",
            user=user,
            **worker,
            resource_type="task",
            resource_id=tid,
            metadata={
                "engine": engine,
                "language": language,
                "pages": pages,
                "attempt": 1,
                "worker": "worker-1:4242",
            },
        )
        failed = rng.random() < 0.03
        yield self.base(
            "task_complete",
            user=user,
            **worker,
            outcome="failure" if failed else "success",
            resource_type="task",
            resource_id=tid,
            message="OCR failed: engine error" if failed else "",
            metadata={
                "pages": pages,
                "page_count": pages,
                "seconds": rng.randrange(200, 60_000) / 1000,
                "engine": engine,
                "language": language,
                "error": "OCR failed: engine error" if failed else "",
            },
        )
        self.recent_tasks.append((tid, user[0], user[1]))
        if len(self.recent_tasks) > 500:
            del self.recent_tasks[:250]

    def _a_task(self, rng):
        if self.recent_tasks:
            tid, uid, name = rng.choice(self.recent_tasks)
            return tid, (uid, name)
        return task_id(rng), self.pick_user()

    def scenario_delete(self, rng):
        tid, user = self._a_task(rng)
        yield self.base(
            "task_delete",
            user=user,
            **self.client(rng),
            resource_type="task",
            resource_id=tid,
            metadata={"via": rng.choice(["api", "web"]), "status": "completed"},
        )

    def scenario_retry(self, rng):
        tid, user = self._a_task(rng)
        yield self.base(
            "task_retry",
            user=user,
            **self.client(rng),
            resource_type="task",
            resource_id=tid,
            metadata={"previous_error": "OCR failed: engine error", "attempts": 1},
        )

    def scenario_reclaim(self, rng):
        tid, user = self._a_task(rng)
        yield self.base(
            "task_reclaim",
            user=user,
            ip=None,
            agent="",
            request_id=hex_id(rng),
            resource_type="task",
            resource_id=tid,
            message="Worker stopped responding; task requeued",
            metadata={"attempts": 1, "status": "queued"},
        )

    def scenario_audit_view(self, rng):
        yield self.base(
            "audit_view",
            user=self.staff,
            **self.client(rng),
            resource_type="audit_log",
            metadata={"format": "json", "filters": {"event_type": "auth_login"}},
        )

    def scenario_audit_export(self, rng):
        yield self.base(
            "audit_export",
            user=self.staff,
            **self.client(rng),
            resource_type="audit_log",
            metadata={"format": rng.choice(["csv", "ndjson"]), "filters": {}},
        )

    def scenario_admin_view_users(self, rng):
        yield self.base(
            "admin_view_users",
            user=self.staff,
            **self.client(rng),
            resource_type="user",
            metadata={"count": 2001},
        )

    def scenario_admin_cleanup(self, rng):
        yield self.base(
            "admin_cleanup",
            user=self.staff,
            **self.client(rng),
            resource_type="task",
            metadata={"older_than_days": 30, "deleted": rng.randrange(0, 200), "dry_run": False},
        )


def chained_rows(*, rows: int, stream: EventStream, start: datetime, span: timedelta):
    """Yield (column tuple, fields) for `rows` events with sequence, timestamp and hashes."""
    step = span / rows
    step_us = max(1, int(step.total_seconds() * 1_000_000))
    rng = stream.rng
    prev_hash = GENESIS_HASH
    key = key_ring().signing
    events = iter(stream)
    for sequence in range(1, rows + 1):
        fields = next(events)
        fields["sequence"] = sequence
        # Never earlier than the previous event: jitter stays inside this event's step.
        fields["timestamp"] = start + timedelta(
            microseconds=(sequence - 1) * step_us + rng.randrange(step_us)
        )
        fields["metadata"] = normalise_metadata(fields["metadata"])
        fields["prev_hash"] = prev_hash
        fields["hash"] = prev_hash = event_hash(fields, key)
        fields["key_id"] = key.key_id
        yield fields
