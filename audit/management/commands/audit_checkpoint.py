"""Sign the audit chain's newest link and write the checkpoint to a file or stdout.

With --tree-head, sign the Merkle tree's head now instead, as the worker does every
AUDIT_CHECKPOINT_EVERY_SECONDS (Ed25519, kept in the database and AUDIT_CHECKPOINT_DIR):
for a trail whose worker is stopped, or a run that must end anchored.
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from audit.roles import RoleError
from audit.transparency.tree_heads import TreeHeadError, newest_tree_checkpoint, sign_tree_head
from audit.verification.checkpoint_format import CheckpointError, checkpoint_json, write_checkpoint
from audit.verification.checkpoints import create_checkpoint


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
        parser.add_argument(
            "--tree-head",
            action="store_true",
            help="Sign the Merkle tree's head now (Ed25519), as the worker does on its timer.",
        )

    def handle(self, *args, output: Path | None, tree_head: bool = False, **options):
        if tree_head:
            self.sign_tree_head()
            return
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

    def sign_tree_head(self) -> None:
        try:
            signed = sign_tree_head()
        except (TreeHeadError, RoleError) as error:
            raise CommandError(f"tree head refused: {error}") from error
        newest = signed or newest_tree_checkpoint()
        if newest is None:
            raise CommandError(
                "No tree head signed: the tree is empty or no signer key is configured "
                "(manage.py audit_keys creates one)."
            )
        verb = "signed" if signed else "already signed"
        self.stdout.write(f"Tree head of size {newest.size:,} {verb}.")
