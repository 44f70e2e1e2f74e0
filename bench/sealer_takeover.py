"""Print how long the standby sealer takes to seal again when the sealing one freezes.

Two real `manage.py audit_sealer` processes on PostgreSQL (DATABASE_URL, migrated).
The holder of the sealer lease is stopped with SIGSTOP: its sessions stay open and
silent, as a host whose network went away does until TCP keepalive gives up. The
figure is the time from the stop until an event recorded just after it is sealed.
Then the frozen sealer is woken up: it must seal nothing (its generation is gone).

    DATABASE_URL=postgres://... VAR_DIR=... python -m bench.sealer_takeover
"""

import os
import signal
import subprocess
import sys
import time

import django


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ocr_project.settings")
    django.setup()
    from django.conf import settings

    from audit.lease import SEALER
    from audit.models import AuditEvent, AuditLease
    from audit.services import record_event

    settings.AUDIT_SEALING = "background"
    env = {**os.environ, "AUDIT_SEALING": "background"}
    command = [sys.executable, "manage.py", "audit_sealer"]
    sealers = [subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL) for _ in range(2)]
    try:
        record_event(event_type="auth_login", username="bench")
        ours = {str(process.pid): process for process in sealers}

        def our_holder() -> str:
            lease = AuditLease.objects.filter(name=SEALER).first()
            pid = lease.holder.split(":")[1:2] if lease else []
            return lease.holder if lease and pid and pid[0] in ours else ""

        # A lease left by an earlier run is taken over first.
        while not (holder := our_holder()):
            time.sleep(0.05)
        frozen = ours[holder.split(":")[1]]
        frozen.send_signal(signal.SIGSTOP)
        stopped = time.monotonic()
        event = record_event(event_type="auth_login", username="after-the-stop")
        while not AuditEvent.objects.filter(pk=event.pk, sequence__isnull=False).exists():
            time.sleep(0.02)
        took = time.monotonic() - stopped
        lease = AuditLease.objects.get(name=SEALER)
        print(
            f"lease {settings.AUDIT_SEALER_LEASE_SECONDS:g} s, interval "
            f"{settings.AUDIT_SEAL_INTERVAL_SECONDS:g} s: sealing resumed {took:.2f} s after "
            f"the holder froze ({holder} -> {lease.holder}, generation {lease.generation})"
        )
        frozen.send_signal(signal.SIGCONT)
        time.sleep(1)
        woke = record_event(event_type="auth_login", username="after-the-wake-up")
        time.sleep(1)
        row = AuditEvent.objects.get(pk=woke.pk)
        still = AuditLease.objects.get(name=SEALER).holder
        print(f"after the wake-up: lease held by {still}; next event sealed as #{row.sequence}")
    finally:
        for process in sealers:
            process.send_signal(signal.SIGCONT)
            process.terminate()
            process.wait(10)


if __name__ == "__main__":
    main()
