"""Recompute the audit hash chain and name the first event that does not hold."""

import argparse
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from audit.anchors import Anchor
from audit.checkpoint import (
    CheckpointError,
    StoredCheckpointForged,
    newest_checkpoint_file,
    read_checkpoint,
    stored_anchors,
)
from audit.health import health_problems
from audit.integrity import CHUNK_SIZE, VerificationResult, verify_archive, verify_chain
from audit.sealer import refused_events, unsealed_backlog

# Exit status: 1 when the trail fails verification, 2 when an input is refused (a
# forged checkpoint, a bad range), 3 when the chain holds but the trail is stale
# (audit/health.py: events left unsealed, a sealer lease or checkpoint signer that
# stopped, events stamped in the future), so a monitor can tell tampering from misuse
# from an outage. Tampering wins over staleness: 1 is reported whenever both hold.
EXIT_BROKEN = 1
EXIT_REFUSED = 2
EXIT_STALE = 3
# Refused unsealed rows named one per line; the rest are counted.
REFUSALS_SHOWN = 10


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
        "Recompute the audit trail's keyed hash chain in sequence order and compare it with "
        "the chain head and every stored checkpoint (and any checkpoint files given). "
        "Exits 1 naming the first bad sequence number when an event was changed, deleted, "
        "inserted or reordered, the newest events were removed, or a checkpoint no longer "
        "holds; exits 2 when a checkpoint or the range is refused; exits 3 when the chain holds "
        "but events stop reaching it (left unsealed, a sealer or checkpoint signer gone, "
        "stamped in the future). A chain of 200,000 rows "
        "or more is shared out over AUDIT_VERIFY_PROCESSES processes."
    )

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="from_sequence", type=positive_int, metavar="SEQ")
        parser.add_argument("--to", dest="to_sequence", type=positive_int, metavar="SEQ")
        parser.add_argument(
            "--checkpoint",
            type=Path,
            action="append",
            default=[],
            metavar="FILE",
            help="A signed checkpoint file (repeatable): its event must still be there, "
            "or in the archive given with --archive if retention pruned it.",
        )
        parser.add_argument(
            "--checkpoint-dir",
            type=Path,
            metavar="DIR",
            help="Hold the chain against the newest checkpoint file in DIR "
            "(AUDIT_CHECKPOINT_DIR, or its copy off this machine).",
        )
        parser.add_argument(
            "--archive",
            type=Path,
            action="append",
            default=[],
            metavar="FILE",
            help="A retention archive (.ndjson.gz, repeatable). With a checkpoint: what "
            "stands in for the pruned events it names. Alone: verify the archive itself.",
        )
        parser.add_argument("--chunk-size", type=positive_int, default=CHUNK_SIZE)

    def handle(
        self,
        *args,
        from_sequence,
        to_sequence,
        checkpoint,
        checkpoint_dir,
        archive,
        chunk_size,
        **opts,
    ):
        if from_sequence and to_sequence and from_sequence > to_sequence:
            raise CommandError("--from must not be after --to.", returncode=EXIT_REFUSED)
        started = time.monotonic()
        for path in archive:
            if not path.is_file():
                raise CommandError(f"No archive at {path}.", returncode=EXIT_REFUSED)
        if archive and not checkpoint and checkpoint_dir is None:
            for path in archive:
                result = verify_archive(path)
                self.report(result, what=f"archived audit events in {path}", started=started)
            return
        files = list(checkpoint)
        if checkpoint_dir is not None:
            newest = newest_checkpoint_file(checkpoint_dir)
            if newest is None:
                raise CommandError(
                    f"No checkpoint-*.json in {checkpoint_dir}.", returncode=EXIT_REFUSED
                )
            files.append(newest)
        anchors = []
        for path in files:
            try:
                anchors.append(Anchor(read_checkpoint(path), path.name, off_machine=True))
            except CheckpointError as error:
                raise CommandError(
                    f"Checkpoint refused: {error}", returncode=EXIT_REFUSED
                ) from error
        if from_sequence is None and to_sequence is None:
            try:
                anchors += stored_anchors()
            except StoredCheckpointForged as error:
                where = f"at #{error.sequence}"
                self.stdout.write(self.style.ERROR(f"BROKEN {where}: {error}."))
                raise CommandError(
                    f"Audit chain broken {where}: {error}.", returncode=EXIT_BROKEN
                ) from error
        result = verify_chain(
            from_sequence=from_sequence,
            to_sequence=to_sequence,
            anchors=anchors,
            archives=archive,
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
        backlog = unsealed_backlog()
        late = (backlog.oldest_seconds or 0) > settings.AUDIT_SEAL_WINDOW_SECONDS
        self.stdout.write(
            (self.style.WARNING if late else str)(
                f"{backlog}"
                + (" (is a sealer running? manage.py audit_sealer)" if late else "")
                + "."
            )
        )
        # The trail's own state, not an archive's: one line per problem.
        live = what == "audit events"
        problems = health_problems(backlog) if live else []
        for problem in problems:
            self.stdout.write(self.style.ERROR(f"STALE: {problem}."))
        if not result.ok:
            where = f" at #{result.first_bad_sequence}" if result.first_bad_sequence else ""
            self.stdout.write(self.style.ERROR(f"BROKEN{where}: {result.reason}."))
            raise CommandError(
                f"Audit chain broken{where}: {result.reason}.", returncode=EXIT_BROKEN
            )
        refused = refused_events() if live else []
        if not refused and problems:
            count = len(problems)
            reason = (
                f"{result.reason}, but {count} problem{'s' if count > 1 else ''} "
                "keep recorded events from reaching it (STALE above)"
            )
            raise CommandError(f"Audit trail stale: {reason}.", returncode=EXIT_STALE)
        if not refused:
            self.stdout.write(self.style.SUCCESS(f"OK: {result.reason}."))
            return
        # The chain holds, but someone wrote rows into the table that record_event
        # did not: evidence of tampering a monitor must not read as "OK".
        for refusal in refused[:REFUSALS_SHOWN]:
            self.stdout.write(self.style.ERROR(f"  {refusal}"))
        count = len(refused)
        reason = (
            f"{count:,} unsealed event{'s' if count > 1 else ''} the sealer will not link "
            "(written into the table outside record_event); the chain itself: "
            f"{result.reason}"
        )
        self.stdout.write(self.style.ERROR(f"BROKEN: {reason}."))
        raise CommandError(f"Audit trail broken: {reason}.", returncode=EXIT_BROKEN)
