"""Seed the bench database: 2,000 users and N audit events forming a valid hash chain.

The users are made here, the events (a realistic mix from 2,000 users and 5,000 client
addresses over 180 days, linked as record_event links them) by bench.seed_events; rows
go in with COPY on PostgreSQL and executemany on SQLite, in batches, with the chain
head and the Merkle tree's leaves as the sealer would have left them.
"""

import json
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.utils import timezone

from audit.chain import HASHED_FIELDS
from audit.models import AuditEvent, ChainHead
from audit.roles import SEALER_ROLE, acting_as
from audit.transparency.tree import catch_up
from bench.seed_events import EventStream, chained_rows, make_ips

STAFF_USERNAME = "bench-staff"
STAFF_PASSWORD = "bench-staff-password-not-secret"
BATCH_SIZE = 20_000

# Columns written by the seeder, in COPY / INSERT order: every field the link covers,
# the user's id (the link covers the username), then the link and its key's id.
COLUMNS = (*HASHED_FIELDS, "user_id", "hash", "key_id")


@dataclass
class SeedInfo:
    """What the figures need to know about the seeded data."""

    rows: int
    seconds: float
    staff_id: int
    user_ids: list[int]
    ips: list[str]
    request_ids: list[str] = field(default_factory=list)
    first_timestamp: str = ""
    last_timestamp: str = ""
    busy_user_id: int = 0
    busy_ip: str = ""

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def make_users(count: int, rng: random.Random) -> tuple[int, list[tuple[int, str]]]:
    """Create the staff account and `count` plain users; return (staff id, [(id, name)])."""
    user_model = get_user_model()
    staff = user_model.objects.filter(username=STAFF_USERNAME).first()
    if staff is None:
        staff = user_model.objects.create_superuser(
            STAFF_USERNAME, "staff@bench.invalid", STAFF_PASSWORD
        )
    existing = user_model.objects.filter(username__startswith="user").count()
    if existing < count:
        user_model.objects.bulk_create(
            [
                # "!" is an unusable password: these accounts only own events.
                user_model(
                    username=f"user{i:04d}", email=f"user{i:04d}@bench.invalid", password="!"
                )
                for i in range(existing, count)
            ],
            batch_size=1000,
        )
    users = list(
        user_model.objects.filter(username__startswith="user")
        .order_by("pk")
        .values_list("pk", "username")[:count]
    )
    return staff.pk, users


def _write_batch(batch: list[dict[str, Any]]) -> None:
    table = AuditEvent._meta.db_table
    quoted = ", ".join(connection.ops.quote_name(column) for column in _db_columns())
    # Rows go in already linked, as the sealer would have left them: the trigger admits
    # sealed rows only from the sealer's role.
    with acting_as(SEALER_ROLE), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({quoted}) FROM STDIN") as copy:
                for fields in batch:
                    copy.write_row(_values(fields, json_text=True))
        else:
            placeholders = ", ".join(["%s"] * len(COLUMNS))
            cursor.executemany(
                f"INSERT INTO {table} ({quoted}) VALUES ({placeholders})",
                [_values(fields, json_text=True) for fields in batch],
            )


def _db_columns() -> list[str]:
    # Each a concrete field, so each has a column.
    return [AuditEvent._meta.get_field(name).column for name in COLUMNS]  # type: ignore[union-attr, misc]


def _values(fields: dict[str, Any], *, json_text: bool) -> tuple:
    values = []
    for name in COLUMNS:
        value = fields[name]
        if name == "timestamp":
            value = connection.ops.adapt_datetimefield_value(value)
        elif name == "metadata":
            value = json.dumps(value, ensure_ascii=False)
        values.append(value)
    return tuple(values)


def seed(*, rows: int, users: int = 2000, ips: int = 5000, days: int = 180, seed: int = 5):
    """Fill an empty, migrated database; return a SeedInfo."""
    if AuditEvent.objects.exists():
        raise RuntimeError("The bench database already holds audit events; use a fresh one.")
    started = time.perf_counter()
    rng = random.Random(seed)
    staff_id, user_rows = make_users(users, rng)
    staff = (staff_id, STAFF_USERNAME)
    ip_pool = make_ips(ips, rng)
    stream = EventStream(rng=rng, users=user_rows, staff=staff, ips=ip_pool)
    end = timezone.now().astimezone(UTC) - timedelta(minutes=5)
    start = end - timedelta(days=days)
    batch: list[dict[str, Any]] = []
    request_ids: list[str] = []
    last: dict[str, Any] | None = None
    first_ts = None
    for fields in chained_rows(rows=rows, stream=stream, start=start, span=end - start):
        if first_ts is None:
            first_ts = fields["timestamp"]
        if fields["request_id"] and rng.random() < 0.002 and len(request_ids) < 500:
            request_ids.append(fields["request_id"])
        batch.append(fields)
        if len(batch) >= BATCH_SIZE:
            _write_batch(batch)
            batch = []
        last = fields
    if batch:
        _write_batch(batch)
    if last is not None:
        head = {"sequence": last["sequence"], "hash": last["hash"], "key_id": last["key_id"]}
        if any(f.name == "timestamp" for f in ChainHead._meta.concrete_fields):
            head["timestamp"] = last["timestamp"]
        ChainHead.objects.update_or_create(pk=1, defaults=head)
        # The Merkle tree's leaves, as the sealer would have appended them.
        with transaction.atomic():
            catch_up(head_sequence=last["sequence"])
    with connection.cursor() as cursor:
        # A long-lived append-only table is analysed by autovacuum; do it now rather than
        # measure a planner that has never seen the table. SQLite is left as Django leaves
        # it (no sqlite_stat1), which is what the service runs with.
        if connection.vendor == "postgresql":
            cursor.execute(f"VACUUM ANALYZE {AuditEvent._meta.db_table}")
    rng_pick = random.Random(seed + 1)
    return SeedInfo(
        rows=rows,
        seconds=time.perf_counter() - started,
        staff_id=staff_id,
        user_ids=[pk for pk, _ in rng_pick.sample(user_rows, min(200, len(user_rows)))],
        ips=rng_pick.sample(ip_pool, min(200, len(ip_pool))),
        request_ids=request_ids,
        first_timestamp=first_ts.isoformat() if first_ts else "",
        last_timestamp=last["timestamp"].isoformat() if last else "",
        busy_user_id=user_rows[0][0],
        busy_ip=ip_pool[0],
    )
