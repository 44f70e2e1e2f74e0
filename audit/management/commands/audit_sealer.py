"""Link committed audit events into the chain, every AUDIT_SEAL_INTERVAL_SECONDS."""

import signal

from django.conf import settings
from django.core.management.base import BaseCommand

from audit.sealer import run_sealer, seal_pending, unsealed_backlog


class Command(BaseCommand):
    help = "Seal committed audit events into the keyed chain (run one or more, on any hosts)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--once", action="store_true", help="seal what is committed now, then exit"
        )

    def handle(self, *args, once: bool = False, **options):
        if once:
            sealed = seal_pending()
            self.stdout.write(f"Sealed {sealed:,} events; {unsealed_backlog()}.")
            return
        stopping = []
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stopping.append(True))
        self.stdout.write(f"Sealing every {settings.AUDIT_SEAL_INTERVAL_SECONDS} s (Ctrl-C stops).")
        run_sealer(interval=settings.AUDIT_SEAL_INTERVAL_SECONDS, stop=lambda: bool(stopping))
