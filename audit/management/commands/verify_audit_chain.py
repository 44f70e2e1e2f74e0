"""Recompute the audit hash chain and name the first event that does not hold."""

import argparse
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from audit.checkpoint import CheckpointError, read_checkpoint
from audit.integrity import CHUNK_SIZE, VerificationResult, verify_archive, verify_chain

# Exit status: 1 when the trail fails verification, 2 when an input is refused (a
# forged checkpoint, a bad range), so a monitor can tell tampering from misuse.
EXIT_BROKEN = 1
EXIT_REFUSED = 2


def positive_int(value: str) -> int:
    """Return a positive integer argument or make argparse refuse it."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not an integer") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a positive integer")
    return number


class Command(BaseCommand):
    help = (
        "Recompute the audit trail's hash chain in sequence order and compare it with the "
        "chain head. Exits 1 naming the first bad sequence number when an event was "
        "changed, deleted, inserted or reordered, or the newest events were removed; "
        "exits 2 when a checkpoint or the range is refused. A chain of 200,000 rows or "
        "more is shared out over AUDIT_VERIFY_PROCESSES processes."
    )

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="from_sequence", type=positive_int, metavar="SEQ")
        parser.add_argument("--to", dest="to_sequence", type=positive_int, metavar="SEQ")
        parser.add_argument(
            "--checkpoint",
            type=Path,
            metavar="FILE",
            help="A signed checkpoint from audit_checkpoint: its event must still be there.",
        )
        parser.add_argument(
            "--archive",
            type=Path,
            metavar="FILE",
            help="Verify a retention archive (.ndjson.gz) instead of the database.",
        )
        parser.add_argument("--chunk-size", type=positive_int, default=CHUNK_SIZE)

    def handle(self, *args, from_sequence, to_sequence, checkpoint, archive, chunk_size, **opts):
        if from_sequence and to_sequence and from_sequence > to_sequence:
            raise CommandError("--from must not be after --to.", returncode=EXIT_REFUSED)
        started = time.monotonic()
        if archive is not None:
            if not archive.is_file():
                raise CommandError(f"No archive at {archive}.", returncode=EXIT_REFUSED)
            result = verify_archive(archive)
            self.report(result, what=f"archived audit events in {archive}", started=started)
            return
        signed = None
        if checkpoint is not None:
            try:
                signed = read_checkpoint(checkpoint)
            except CheckpointError as error:
                raise CommandError(
                    f"Checkpoint refused: {error}", returncode=EXIT_REFUSED
                ) from error
        result = verify_chain(
            from_sequence=from_sequence,
            to_sequence=to_sequence,
            checkpoint=signed,
            chunk_size=chunk_size,
        )
        self.report(result, what="audit events", started=started)

    def report(self, result: VerificationResult, *, what: str, started: float) -> None:
        elapsed = time.monotonic() - started
        span = (
            f" (#{result.first_sequence}-#{result.last_sequence})"
            if result.first_sequence is not None and result.last_sequence is not None
            else ""
        )
        rate = f", {result.rows_checked / elapsed:,.0f} rows/s" if elapsed > 0 else ""
        shared = f" by {result.processes} processes" if result.processes > 1 else ""
        self.stdout.write(
            f"Checked {result.rows_checked:,} {what}{span} in {elapsed:.2f} s{shared}{rate}."
        )
        if result.ok:
            self.stdout.write(self.style.SUCCESS(f"OK: {result.reason}."))
            return
        where = f" at #{result.first_bad_sequence}" if result.first_bad_sequence else ""
        self.stdout.write(self.style.ERROR(f"BROKEN{where}: {result.reason}."))
        raise CommandError(f"Audit chain broken{where}: {result.reason}.", returncode=EXIT_BROKEN)
