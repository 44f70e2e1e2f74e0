"""Link committed audit events into the chain and stream them, every AUDIT_SEAL_INTERVAL_SECONDS."""

import signal

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from audit.sealing.backlog import unsealed_backlog
from audit.sealing.batches import seal_pending
from audit.sealing.heads import HeadMoved
from audit.sealing.loop import release_lease, run_sealer
from audit.siem.streamer import stream_lag, stream_pending


class Command(BaseCommand):
    help = (
        "Seal committed audit events into the keyed chain and write them to the audit "
        "stream (AUDIT_STREAM); run one or more, on any hosts."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--once", action="store_true", help="seal and stream what is committed now, then exit"
        )

    def handle(self, *args, once: bool = False, **options):
        # Standard output may be the audit stream (AUDIT_STREAM=stdout): this command's
        # own words go to standard error, so the stream carries audit lines only.
        say = self.stderr.write
        if once:
            try:
                sealed = seal_pending()
            except HeadMoved as error:
                release_lease()
                raise CommandError(f"Not sealing: {error}.") from error
            streamed = stream_pending()
            release_lease()  # a running standby need not wait for it to expire
            say(
                f"Sealed {sealed:,} events; {unsealed_backlog()}. "
                f"Streamed {streamed:,} ({stream_lag():,} sealed events not yet streamed)."
            )
            return
        # SIGTERM (systemd, supervisor) and Ctrl-C end the loop between rounds; run_sealer
        # then releases the lease, so a standby on another host seals at its next round.
        stopping = []
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stopping.append(True))
        say(
            f"Sealing every {settings.AUDIT_SEAL_INTERVAL_SECONDS} s, streaming to "
            f"{settings.AUDIT_STREAM} as {settings.AUDIT_STREAM_FORMAT} (Ctrl-C stops)."
        )
        run_sealer(interval=settings.AUDIT_SEAL_INTERVAL_SECONDS, stop=lambda: bool(stopping))
