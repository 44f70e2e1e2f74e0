"""A writer host whose clock is off still writes events the sealer links (PostgreSQL).

The database stamps each event; the writer MAC carries the writer's own reading of the
time, and the sealer refuses a stamp more than WRITER_CLOCK_TOLERANCE from it as a copy
of an older event. The reading is taken on the database's clock, so a web host whose
wall clock runs two minutes ahead (libfaketime, as the fault suite steps web2's clock)
is not mistaken for a forger.
"""

import glob
import os
import subprocess
import sys
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection

from audit.models import AuditEvent
from audit.recording import writer_clock
from audit.sealing.batches import seal_pending
from audit.sealing.heads import WRITER_CLOCK_TOLERANCE
from audit.sealing.refusals import parse_timestamp
from audit.services import record_event
from audit.verification.verify import verify_chain

FAKETIME_LIB = next(iter(glob.glob("/usr/lib/*/faketime/libfaketime.so.1")), "")
# Past the sealer's tolerance: with the host's own clock this event was refused for good.
AHEAD_SECONDS = 2 * int(WRITER_CLOCK_TOLERANCE.total_seconds())

RECORD = """
from audit.services import record_event
event = record_event(event_type="auth_login", username="clock-ahead")
print("EVENT", event.pk)
"""


@pytest.fixture(autouse=True)
def background(settings):
    settings.AUDIT_SEALING = "background"
    writer_clock.forget()
    yield
    writer_clock.forget()


def record_on_a_host_ahead(seconds: int) -> int:
    if not FAKETIME_LIB:
        pytest.fail("libfaketime is missing: `make system-packages` installs Debian's faketime")
    database = connection.settings_dict
    url = (
        f"postgres://{database['USER']}@{database['HOST'] or '127.0.0.1'}:"
        f"{database['PORT'] or 5432}/{database['NAME']}"
    )
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "AUDIT_CHAIN_KEYS": settings.AUDIT_CHAIN_KEYS,
        "AUDIT_SEALING": "background",
        "LD_PRELOAD": FAKETIME_LIB,
        "FAKETIME": f"+{seconds}",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", RECORD],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return int(result.stdout.split("EVENT ", 1)[1].split()[0])


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_an_event_from_a_host_whose_clock_runs_ahead_is_sealed():
    event_id = record_on_a_host_ahead(AHEAD_SECONDS)

    event = AuditEvent.objects.get(pk=event_id)
    # The host's clock really was ahead; the reading in its MAC is the database's.
    written = parse_timestamp(event.writer_mac.split(" ")[1])
    assert abs(written - event.timestamp) < timedelta(seconds=5)

    assert seal_pending() == 1

    event.refresh_from_db()
    assert event.sequence == 1
    assert verify_chain().ok


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_the_reading_is_the_databases_clock_carried_on_the_monotonic_clock():
    with connection.cursor() as cursor:
        cursor.execute("SELECT clock_timestamp()")
        (database,) = cursor.fetchone()

    first = writer_clock.database_now()
    later = writer_clock.database_now()

    assert abs(first - database) < timedelta(seconds=5)
    assert first <= later < first + timedelta(seconds=5)


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_one_forged_future_stamp_does_not_get_later_events_refused():
    # A trigger (someone with the application's role) stamps one row a day ahead; the
    # process's later, genuine events must still be linked.
    table = AuditEvent._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION ahead() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
            " NEW.timestamp := clock_timestamp() + interval '1 day'; RETURN NEW; END $$"
        )
        cursor.execute(
            f"CREATE TRIGGER ahead BEFORE INSERT ON {table} FOR EACH ROW EXECUTE FUNCTION ahead()"
        )
    record_event(event_type="auth_login", username="forged-ahead")
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TRIGGER ahead ON {table}")
        cursor.execute("DROP FUNCTION ahead()")

    genuine = [record_event(event_type="auth_login", username=f"later-{n}") for n in range(3)]
    seal_pending()

    for event in genuine:
        event.refresh_from_db()
        assert event.sequence is not None, event.pk
