"""Witness the audit trail's log: cosign each new checkpoint that extends the last one."""

import argparse
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from audit.transparency.verifier.signed_note import NoteError, Verifier, parse_checkpoint
from audit.transparency.witness import (
    LogClient,
    WitnessError,
    WitnessRefusal,
    WitnessState,
    alert,
    witness_checkpoint,
)

# Exit status of --once: 1 a refusal (split view, rollback, rewritten history, a note the
# log key does not verify), 2 the witness cannot run (no key, the log unreachable).
EXIT_REFUSED = 1
EXIT_CANNOT_RUN = 2


def log_keys(value: str) -> list[Verifier]:
    """Return the log's verifier keys: a key, or a file of them one a line."""
    path = Path(value)
    lines = path.read_text(encoding="utf-8").splitlines() if path.is_file() else [value]
    try:
        keys = [Verifier.from_key(line.strip()) for line in lines if line.strip()]
    except NoteError as error:
        raise argparse.ArgumentTypeError(f"not a log verifier key: {error}") from None
    if not keys:
        raise argparse.ArgumentTypeError(f"no log verifier key in {value}")
    return keys


class Command(BaseCommand):
    help = (
        "A witness for another host or party: fetch the log's newest signed checkpoint "
        "from --url, verify it with the log's public key (--log-key), check its consistency "
        "proof from the last checkpoint this witness cosigned, and only then cosign it "
        "(C2SP cosignature/v1) and submit the cosignature. A split view, a rollback or a "
        "failed proof is refused with an ALERT line. --init makes the witness key."
    )
    # Another party's host: no database, no system checks of the service's settings.
    requires_system_checks: list = []

    def add_arguments(self, parser):
        parser.add_argument(
            "--state-dir",
            type=Path,
            default=None,
            help="The witness's key and state (default AUDIT_WITNESS_STATE_DIR).",
        )
        parser.add_argument(
            "--init", metavar="NAME", help="Create the witness key named NAME and print it."
        )
        parser.add_argument("--show-key", action="store_true", help="Print the verifier key.")
        parser.add_argument("--url", help="The service's base URL, e.g. https://ocr.example.com")
        parser.add_argument(
            "--log-key", type=log_keys, help="The log's verifier key, or a file of them."
        )
        parser.add_argument("--origin", help="The log's origin (default: the name of the log key).")
        parser.add_argument("--once", action="store_true", help="One round, then exit.")
        parser.add_argument(
            "--interval",
            type=float,
            default=None,
            help="Seconds between rounds (default AUDIT_CHECKPOINT_EVERY_SECONDS).",
        )
        parser.add_argument("--no-submit", action="store_true", help="Keep cosignatures only.")

    def handle(self, *args, state_dir, init, show_key, url, log_key, origin, once, **options):
        state = WitnessState(state_dir or Path(settings.AUDIT_WITNESS_STATE_DIR))
        if init:
            try:
                cosigner = state.create_key(init)
            except FileExistsError:
                raise CommandError(
                    f"A witness key exists in {state.directory}; it is never replaced "
                    "(its cosignatures would no longer verify).",
                    returncode=EXIT_CANNOT_RUN,
                ) from None
            except WitnessError as error:
                raise CommandError(str(error), returncode=EXIT_CANNOT_RUN) from None
            self.stdout.write(cosigner.verifier().key())
            return
        try:
            cosigner = state.cosigner()
        except WitnessError as error:
            raise CommandError(str(error), returncode=EXIT_CANNOT_RUN) from None
        if show_key:
            self.stdout.write(cosigner.verifier().key())
            return
        if not url or not log_key:
            raise CommandError("Give --url and --log-key.", returncode=EXIT_CANNOT_RUN)
        origin = origin or log_key[0].name
        try:
            client = LogClient(url)
        except WitnessError as error:
            raise CommandError(str(error), returncode=EXIT_CANNOT_RUN) from None
        interval = options["interval"] or settings.AUDIT_CHECKPOINT_EVERY_SECONDS
        while True:
            code = self.round(
                client=client,
                state=state,
                cosigner=cosigner,
                keys=log_key,
                origin=origin,
                submit=not options["no_submit"],
            )
            if once:
                if code:
                    raise CommandError("The witness cosigned nothing (above).", returncode=code)
                return
            # A refusal stays a refusal: the next round fetches, checks and alerts again.
            time.sleep(interval)

    def round(self, *, client, state, cosigner, keys, origin, submit) -> int:
        """Run one round; return 0, or the exit status of what went wrong."""
        try:
            note = client.checkpoint()
            outcome = witness_checkpoint(
                note=note,
                origin=origin,
                log_keys=keys,
                state=state,
                cosigner=cosigner,
                consistency=client.consistency,
            )
        except WitnessRefusal as refusal:
            self.stderr.write(alert(refusal, origin=origin))
            return EXIT_REFUSED
        except WitnessError as error:
            self.stderr.write(f"ERROR: {error}")
            return EXIT_CANNOT_RUN
        size = parse_checkpoint(outcome.note[: outcome.note.rfind("\n\n") + 1]).size
        what = "cosigned" if outcome.new else "already cosigned"
        line = f"{what} {origin} at size {size:,}"
        if submit:
            try:
                status = client.submit(outcome.note)
            except WitnessError as error:
                status = 0
                line += f"; not submitted ({error}), kept in {state.directory}"
            else:
                line += f"; submitted ({status})"
            if status and status not in (200, 201):
                self.stderr.write(f"WARNING: the log refused the cosignature ({status}).")
        self.stdout.write(line + ".")
        return 0
