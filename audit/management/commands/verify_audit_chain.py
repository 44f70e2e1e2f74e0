"""Recompute the audit hash chain and name the first event that does not hold."""

import argparse
import dataclasses
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from audit.health import health_problems
from audit.models import TreeCheckpoint
from audit.sealing.backlog import unsealed_backlog
from audit.sealing.refusals import refused_events
from audit.transparency.cosignatures import valid_cosignatures
from audit.transparency.keys import KeyFileError, verifiers
from audit.transparency.tree_heads import SignedTreeHead, checkpoint_files, open_tree_head
from audit.transparency.verification import check_tree_heads, verify_tree
from audit.transparency.verifier.signed_note import InvalidNoteSignature, NoteError, Verifier
from audit.verification.anchors import Anchor
from audit.verification.archives import verify_archive
from audit.verification.checkpoint_format import (
    CheckpointError,
    StoredCheckpointForged,
    newest_checkpoint_file,
    read_checkpoint,
)
from audit.verification.checkpoints import stored_anchors
from audit.verification.rows import CHUNK_SIZE, ChainBroken, VerificationResult
from audit.verification.verify import verify_chain

# Exit status: 1 when the trail fails verification, 2 when an input is refused (a
# forged checkpoint, a bad range), 3 when the chain holds but the trail is stale
# (audit/health.py: events left unsealed, a sealer lease or checkpoint signer that
# stopped, events stamped in the future), 4 when everything holds but no checkpoint
# outside the database anchors the trail, so a monitor can tell tampering from misuse
# from an outage from a missing anchor. Tampering wins over staleness, staleness over
# the missing anchor: 1 is reported whenever it holds.
EXIT_BROKEN = 1
EXIT_REFUSED = 2
EXIT_STALE = 3
EXIT_UNANCHORED = 4
# 5 when everything else holds but the checkpoint that covers the range (the newest one
# by default) lacks the cosignatures of --require-witnesses witnesses (AUDIT_WITNESS_KEYS).
EXIT_UNWITNESSED = 5
UNANCHORED = "unanchored: a database writer could remove the tail unnoticed"
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
        "the chain head, recompute the Merkle tree from the events and compare it with the "
        "stored one, and hold every stored checkpoint and every checkpoint in the checkpoint "
        "directory (AUDIT_CHECKPOINT_DIR) against them. "
        "Exits 1 naming the first bad sequence number when an event was changed, deleted, "
        "inserted or reordered, the newest events were removed, or a checkpoint no longer "
        "holds; exits 2 when a checkpoint or the range is refused; exits 3 when the chain holds "
        "but events stop reaching it (left unsealed, a sealer or checkpoint signer gone, "
        "stamped in the future); exits 4 when all holds but no checkpoint outside the "
        "database anchors the trail; exits 5 when all holds but the newest checkpoint lacks "
        "the witness cosignatures --require-witnesses asks for. A chain of 200,000 rows "
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
            help="Hold the trail against every signed tree checkpoint (tree-*.checkpoint) "
            "and the newest HMAC checkpoint (checkpoint-*.json) in DIR; by default "
            "AUDIT_CHECKPOINT_DIR (or give its copy off this machine).",
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
        parser.add_argument(
            "--require-witnesses",
            type=int,
            default=None,
            metavar="N",
            help="Exit 5 unless the newest signed checkpoint (with --to, the first one that "
            "covers it) has valid cosignatures by N witness keys of AUDIT_WITNESS_KEYS "
            "(default AUDIT_REQUIRE_WITNESSES).",
        )

    def handle(
        self,
        *args,
        from_sequence,
        to_sequence,
        checkpoint,
        checkpoint_dir,
        archive,
        chunk_size,
        require_witnesses,
        **opts,
    ):
        if require_witnesses is None:
            require_witnesses = settings.AUDIT_REQUIRE_WITNESSES
        if require_witnesses < 0:
            raise CommandError("--require-witnesses must be 0 or more.", returncode=EXIT_REFUSED)
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
        directory = checkpoint_dir
        if directory is None and settings.AUDIT_CHECKPOINT_DIR:
            directory = Path(settings.AUDIT_CHECKPOINT_DIR)
        tree_heads: list[SignedTreeHead] = []
        if directory is not None:
            if checkpoint_dir is not None and not checkpoint_dir.is_dir():
                raise CommandError(f"No directory {checkpoint_dir}.", returncode=EXIT_REFUSED)
            newest = newest_checkpoint_file(directory) if directory.is_dir() else None
            if newest is not None:
                files.append(newest)
            tree_heads = self.read_tree_heads(directory) if directory.is_dir() else []
            if checkpoint_dir is not None and newest is None and not tree_heads:
                raise CommandError(
                    f"No checkpoint-*.json or tree-*.checkpoint in {checkpoint_dir}.",
                    returncode=EXIT_REFUSED,
                )
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
        if result.ok:
            result = self.check_tree(
                result,
                from_sequence=from_sequence,
                to_sequence=to_sequence,
                files=tree_heads,
                chunk_size=chunk_size,
            )
        # Anchored: a checkpoint kept outside the database (a file) covers the trail. A
        # range says nothing about the tail, so it needs none.
        anchored = (
            bool(tree_heads)
            or any(anchor.off_machine for anchor in anchors)
            or from_sequence is not None
            or to_sequence is not None
        )
        unwitnessed = (
            self.witness_shortfall(
                require_witnesses, to_sequence=to_sequence, notes=[h.note for h in tree_heads]
            )
            if result.ok and require_witnesses
            else None
        )
        self.report(
            result, what="audit events", started=started, anchored=anchored, unwitnessed=unwitnessed
        )

    def witness_shortfall(
        self, required: int, *, to_sequence: int | None, notes: list[str]
    ) -> str | None:
        """Return why the covering checkpoint lacks `required` cosignatures, or None."""
        checkpoints = TreeCheckpoint.objects.all()
        if to_sequence is not None:
            covering = checkpoints.filter(size__gte=to_sequence).order_by("size").first()
        else:
            covering = checkpoints.order_by("-size").first()
        if covering is None:
            return "no signed checkpoint covers the range, so no witness cosigned it"
        found = valid_cosignatures(covering, notes=tuple(notes))
        names = ", ".join(sorted(c.witness.name for c in found)) or "none"
        self.stdout.write(
            f"Checkpoint of size {covering.size:,}: {len(found)} valid witness "
            f"cosignature{'s' if len(found) != 1 else ''} ({names}), {required} required."
        )
        if len(found) >= required:
            return None
        return (
            f"unwitnessed: the checkpoint of size {covering.size:,} has {len(found)} of the "
            f"{required} witness cosignatures required"
        )

    def read_tree_heads(self, directory: Path) -> list[SignedTreeHead]:
        """Return the signed tree checkpoints in a directory, each one's signature checked."""
        paths = checkpoint_files(directory)
        if not paths:
            return []
        keys = self.verifier_keys()
        heads = []
        for path in paths:
            try:
                text = path.read_text(encoding="utf-8")
                heads.append(open_tree_head(text, verifiers=keys, source=path.name))
            except InvalidNoteSignature as error:
                reason = (
                    f"the signed checkpoint {path.name} does not verify: {error} (forged or edited)"
                )
                self.stdout.write(self.style.ERROR(f"BROKEN: {reason}."))
                raise CommandError(
                    f"Audit trail broken: {reason}.", returncode=EXIT_BROKEN
                ) from error
            except (OSError, UnicodeDecodeError, NoteError) as error:
                raise CommandError(
                    f"Checkpoint {path} refused: {error}.", returncode=EXIT_REFUSED
                ) from error
        return heads

    def verifier_keys(self) -> list[Verifier]:
        try:
            keys = verifiers()
        except (KeyFileError, NoteError) as error:
            raise CommandError(
                f"Verifier keys refused: {error}.", returncode=EXIT_REFUSED
            ) from error
        if not keys:
            raise CommandError(
                "Signed checkpoints to verify but no verifier key: set "
                "AUDIT_CHECKPOINT_VERIFIER_KEYS (the key /.well-known/audit-log-key serves).",
                returncode=EXIT_REFUSED,
            )
        return keys

    def check_tree(
        self,
        result: VerificationResult,
        *,
        from_sequence: int | None,
        to_sequence: int | None,
        files: list[SignedTreeHead],
        chunk_size: int,
    ) -> VerificationResult:
        """Return the verdict once the Merkle tree and the signed checkpoints are checked too."""
        whole = from_sequence is None and to_sequence is None
        stored: list[SignedTreeHead] = []
        try:
            tree = verify_tree(
                first=from_sequence, last=to_sequence, chunk_size=chunk_size, whole=whole
            )
            if whole:
                # A range is checked on its own, as the stored HMAC checkpoints are.
                stored = self.stored_tree_heads()
                check_tree_heads(stored, outside=False, tree_size=tree.size)
                check_tree_heads(files, outside=True, tree_size=tree.size)
        except ChainBroken as broken:
            return dataclasses.replace(
                result, ok=False, first_bad_sequence=broken.sequence, reason=broken.reason
            )
        held = f"{tree}"
        if whole and (stored or files):
            held += (
                f"; {len(stored):,} stored and {len(files):,} outside the database "
                "signed checkpoints hold"
            )
        self.stdout.write(f"{held}.")
        return result

    def stored_tree_heads(self) -> list[SignedTreeHead]:
        """Return the stored tree checkpoints; raise ChainBroken at one that does not verify."""
        rows = list(
            TreeCheckpoint.objects.order_by("size").values_list("size", "root_hash", "note")
        )
        if not rows:
            return []
        keys = self.verifier_keys()
        heads = []
        for size, root, note in rows:
            label = f"stored checkpoint of size {size:,}"
            try:
                head = open_tree_head(note, verifiers=keys, source=label)
            except NoteError as error:
                raise ChainBroken(
                    None, f"the {label} does not verify: {error} (forged or edited)"
                ) from error
            if (head.checkpoint.size, head.checkpoint.root_hash) != (size, bytes(root)):
                raise ChainBroken(None, f"the {label} differs from its own signed note (edited)")
            heads.append(head)
        return heads

    def report(
        self,
        result: VerificationResult,
        *,
        what: str,
        started: float,
        anchored: bool = True,
        unwitnessed: str | None = None,
    ) -> None:
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
        # Nothing to cut from an empty trail.
        unanchored = live and not anchored and bool(result.rows_checked)
        if unanchored and not refused:
            self.stdout.write(self.style.WARNING(f"{UNANCHORED.capitalize()}."))
        if not refused and problems:
            count = len(problems)
            reason = (
                f"{result.reason}, but {count} problem{'s' if count > 1 else ''} "
                "keep recorded events from reaching it (STALE above)"
            )
            raise CommandError(f"Audit trail stale: {reason}.", returncode=EXIT_STALE)
        if not refused and unanchored:
            raise CommandError(
                f"{UNANCHORED} ({result.reason}; no checkpoint in AUDIT_CHECKPOINT_DIR).",
                returncode=EXIT_UNANCHORED,
            )
        if not refused and unwitnessed:
            self.stdout.write(self.style.ERROR(f"{unwitnessed.capitalize()}."))
            raise CommandError(
                f"{unwitnessed.capitalize()} ({result.reason}).", returncode=EXIT_UNWITNESSED
            )
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
