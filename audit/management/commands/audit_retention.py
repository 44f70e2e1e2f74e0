"""Archive the audit events older than N days to gzip NDJSON, then delete them."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from audit.chain import canonical_timestamp
from audit.retention import RetentionError, prune_events

from .verify_audit_chain import positive_int


class Command(BaseCommand):
    help = (
        "Write the events older than --older-than-days to a gzip NDJSON archive (every "
        "column, including sequence, prev_hash and hash), fsync it, then delete them in "
        "one transaction and record an audit_prune event. The chain is verified while "
        "archiving; a broken chain is refused and nothing is deleted."
    )

    def add_arguments(self, parser):
        parser.add_argument("--older-than-days", type=positive_int, required=True, metavar="N")
        parser.add_argument("--archive", type=Path, metavar="PATH.ndjson.gz")
        parser.add_argument(
            "--dry-run", action="store_true", help="Report what would go; change nothing."
        )

    def handle(self, *args, older_than_days: int, archive: Path | None, dry_run: bool, **opts):
        if archive is None and not dry_run:
            raise CommandError("--archive is required (except with --dry-run).")
        try:
            result = prune_events(older_than_days=older_than_days, archive=archive, dry_run=dry_run)
        except RetentionError as error:
            raise CommandError(str(error)) from error
        cutoff = canonical_timestamp(result.cutoff)
        if result.count == 0:
            self.stdout.write(f"No audit events older than {cutoff}; nothing to do.")
            return
        span = f"#{result.first_sequence}-#{result.last_sequence}"
        if result.dry_run:
            self.stdout.write(
                f"Dry run: would archive and delete {result.count:,} audit events {span} "
                f"(older than {cutoff}). Nothing was changed."
            )
            return
        # An archived stretch has both timestamps; only an empty or dry run lacks them.
        self.stdout.write(
            f"Archived {result.count:,} audit events {span} "
            f"({canonical_timestamp(result.first_timestamp)} to "  # type: ignore[arg-type]
            f"{canonical_timestamp(result.last_timestamp)}) to {result.archive}, "  # type: ignore[arg-type]
            f"sha256 {result.archive_sha256}."
        )
        recorded = (
            f"audit_prune event #{result.prune_event_sequence}."
            if result.prune_event_sequence is not None
            else "an audit_prune event; a running sealer links it into the chain."
        )
        self.stdout.write(self.style.SUCCESS(f"Deleted them and recorded {recorded}"))
