"""Create the Ed25519 key pair that signs the audit trail's tree checkpoints."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from audit.transparency.keys import (
    KeyFileError,
    create_key_file,
    load_signer,
    log_origin,
    signer_key_path,
)
from audit.transparency.verifier.signed_note import NoteError


class Command(BaseCommand):
    help = (
        "Create the signer key of the audit trail's tlog checkpoints (C2SP signed-note "
        "format, Ed25519) in AUDIT_CHECKPOINT_SIGNER_KEY_FILE, mode 600, named after "
        "AUDIT_LOG_ORIGIN, and print its verifier key (public: give it to auditors and set "
        "it as AUDIT_CHECKPOINT_VERIFIER_KEYS on hosts that only verify). Refuses to "
        "replace an existing key."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--if-missing",
            action="store_true",
            help="Keep an existing key file (and print its verifier key) instead of failing.",
        )
        parser.add_argument(
            "--key-file", type=Path, metavar="FILE", help="Instead of the setting's file."
        )

    def handle(self, *args, if_missing: bool, key_file: Path | None, **options):
        path = key_file or signer_key_path()
        try:
            signer = create_key_file(name=log_origin(), path=path)
        except FileExistsError:
            if not if_missing:
                raise CommandError(
                    f"{path} exists: a new key would orphan the checkpoints signed with it "
                    "(--if-missing keeps it)."
                ) from None
            try:
                kept = load_signer(path)
            except KeyFileError as error:
                raise CommandError(str(error)) from error
            if kept is None:  # removed meanwhile
                raise CommandError(f"{path} disappeared; run audit_keys again.") from None
            signer = kept
            self.stderr.write(f"{path} exists; kept. Its verifier key:")
        except NoteError as error:
            raise CommandError(
                f"AUDIT_LOG_ORIGIN {log_origin()!r} cannot name a key: {error}"
            ) from error
        else:
            self.stderr.write(f"Signer key written to {path} (mode 600); its verifier key:")
        # The verifier key alone on stdout, so `audit_keys > key.pub` gets a clean line.
        self.stdout.write(signer.verifier().key())
