"""Sign the audit chain's newest link and write the checkpoint to a file or stdout."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from audit.checkpoint import CheckpointError, checkpoint_json, create_checkpoint, write_checkpoint


class Command(BaseCommand):
    help = (
        "Verify the whole chain, then sign its newest link with "
        "AUDIT_SIGNING_KEY (HMAC-SHA256). Keep the file off this machine; later "
        "`verify_audit_chain --checkpoint FILE` proves nothing up to it was removed."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--output", type=Path, metavar="FILE", help="Write here instead of stdout."
        )

    def handle(self, *args, output: Path | None, **options):
        try:
            checkpoint = create_checkpoint()
        except CheckpointError as error:
            raise CommandError(str(error)) from error
        if output is None:
            # The document alone, so `audit_checkpoint > file` or a pipe gets clean JSON.
            self.stdout.write(checkpoint_json(checkpoint), ending="")
            return
        write_checkpoint(checkpoint, output)
        self.stdout.write(
            f"Checkpoint #{checkpoint.sequence} ({checkpoint.hash[:16]}…) signed at "
            f"{checkpoint.created_at}, written to {output}."
        )
