"""A witness of the audit trail's log: cosign a checkpoint only once it extends the last one.

C2SP tlog-witness semantics (https://c2sp.org/tlog-witness), pulled rather than pushed:
the witness fetches the log's newest checkpoint, verifies the log's signature with the
log key it was configured with, and holds the checkpoint against the newest one it
cosigned for that origin (its state file):

- a smaller size is a rollback, the same size with another root a split view, and a
  larger size whose consistency proof from the last cosigned one fails a rewritten
  history: each is refused (WitnessRefusal), nothing is cosigned, the state stays;
- otherwise the state is written (atomically, before the cosignature leaves the
  witness, so a crash never lets it cosign two histories) and the checkpoint cosigned
  (cosignature/v1, signed_note.Cosigner).

The first checkpoint a witness sees for an origin is taken on trust, as in tlog-witness
(an empty state is a tree of size 0). Nothing here needs Django or the database: the
witness runs on another host, from its own state directory, with the log's public key.
"""

import base64
import json
import logging
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ocr_project.common.atomic_files import atomic_write

from .verifier.merkle import InvalidProofError, verify_consistency
from .verifier.signed_note import NoteError, Verifier, open_checkpoint
from .verifier.tlog_cosignature import Cosigner, generate_cosigner_key

logger = logging.getLogger("audit_witness")
KEY_FILE = "witness.key"
STATE_FILE = "state.json"
COSIGNED_DIR = "cosigned"


class WitnessRefusal(Exception):
    """A checkpoint the witness will not cosign; `kind` names the reason for alerts."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class WitnessError(Exception):
    """The witness cannot run: no key, an unreadable state, the log unreachable."""


@dataclass(frozen=True)
class Cosigned:
    """The newest tree head the witness cosigned for an origin."""

    size: int
    root_hash: bytes
    timestamp: int


class WitnessState:
    """The witness's state directory: its key, and the last cosigned head per origin."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    # --- the key ---

    def create_key(self, name: str) -> Cosigner:
        """Write a new cosigner key (mode 600); refuse to replace one (FileExistsError)."""
        try:
            skey, _ = generate_cosigner_key(name)
        except NoteError as error:
            raise WitnessError(str(error)) from error
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        # atomic_write's temporary file is owner-only and linked, never overwritten.
        with atomic_write(self.directory / KEY_FILE, overwrite=False) as handle:
            handle.write(skey + "\n")
        return Cosigner.from_key(skey)

    def cosigner(self) -> Cosigner:
        path = self.directory / KEY_FILE
        try:
            return Cosigner.from_key(path.read_text(encoding="ascii").strip())
        except FileNotFoundError:
            raise WitnessError(f"no witness key at {path}: run audit_witness --init") from None
        except (OSError, UnicodeDecodeError, NoteError) as error:
            raise WitnessError(f"{path} does not hold a witness key: {error}") from error

    # --- the state ---

    def _read(self) -> dict:
        path = self.directory / STATE_FILE
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"version": 1, "logs": {}}
        except (OSError, ValueError) as error:
            # Never start again from nothing: that would cosign whatever comes next.
            raise WitnessError(f"cannot read the witness state {path}: {error}") from error
        if not isinstance(document, dict) or not isinstance(document.get("logs"), dict):
            raise WitnessError(f"{path} is not a witness state")
        return document

    def last(self, origin: str) -> Cosigned | None:
        entry = self._read()["logs"].get(origin)
        head = None
        if entry is not None:
            try:
                head = Cosigned(
                    size=int(entry["size"]),
                    root_hash=base64.b64decode(entry["root"], validate=True),
                    timestamp=int(entry["timestamp"]),
                )
            except (KeyError, TypeError, ValueError) as error:
                raise WitnessError(
                    f"the witness state of {origin!r} is damaged: {error}"
                ) from error
        # A state restored from an older backup (or lost) would cosign a history forked
        # after the size it remembers; the notes kept beside it say how far it got.
        kept = self.newest_kept_size(origin)
        if kept is not None and (head is None or kept > head.size):
            remembered = "no size" if head is None else f"size {head.size}"
            raise WitnessError(
                f"the witness state of {origin!r} remembers {remembered}, but this witness "
                f"cosigned size {kept} ({COSIGNED_DIR}/): the state was rolled back or lost; "
                "restore the newest one rather than cosign from an older one"
            )
        return head

    def newest_kept_size(self, origin: str) -> int | None:
        """Return the largest size among the cosigned notes kept for an origin, if any."""
        folder = self.cosigned_path(origin, 0).parent
        stems = (path.stem.removeprefix("tree-") for path in folder.glob("tree-*.checkpoint"))
        return max((int(stem) for stem in stems if stem.isdigit()), default=None)

    def record(self, origin: str, head: Cosigned) -> None:
        """Replace the origin's last cosigned head, atomically and durably."""
        document = self._read()
        document["logs"][origin] = {
            "size": head.size,
            "root": base64.b64encode(head.root_hash).decode(),
            "timestamp": head.timestamp,
        }
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        with atomic_write(self.directory / STATE_FILE) as handle:
            json.dump(document, handle, indent=1, sort_keys=True)
            handle.write("\n")

    def cosigned_path(self, origin: str, size: int) -> Path:
        folder = urllib.parse.quote(origin, safe="")
        return self.directory / COSIGNED_DIR / folder / f"tree-{size:020d}.checkpoint"

    def keep_cosigned(self, origin: str, size: int, note: str) -> Path:
        """Keep a cosigned note beside the state (never overwritten): the witness's record."""
        path = self.cosigned_path(origin, size)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with atomic_write(path, overwrite=False) as handle:
                handle.write(note)
        except FileExistsError:
            pass  # cosigned before (a resubmission): the first stands
        return path


@dataclass(frozen=True)
class Outcome:
    """What one round gave: the cosigned note and whether its size was new."""

    size: int
    note: str
    new: bool


ConsistencyFetcher = Callable[[int, int], list[bytes]]


def witness_checkpoint(
    *,
    note: str,
    origin: str,
    log_keys: list[Verifier],
    state: WitnessState,
    cosigner: Cosigner,
    consistency: ConsistencyFetcher,
    now: Callable[[], float] = time.time,
) -> Outcome:
    """Cosign the log's checkpoint when it extends the last one cosigned; else refuse."""
    try:
        checkpoint, _ = open_checkpoint(note, origin=origin, verifiers=log_keys)
    except NoteError as error:
        raise WitnessRefusal("bad signature", f"the checkpoint does not verify: {error}") from None
    last = state.last(origin)
    text = note[: note.rfind("\n\n") + 1]
    if last is not None:
        if checkpoint.size < last.size:
            raise WitnessRefusal(
                "rollback",
                f"the log shows size {checkpoint.size}, smaller than the {last.size} "
                "already cosigned",
            )
        if checkpoint.size == last.size:
            if checkpoint.root_hash != last.root_hash:
                raise WitnessRefusal(
                    "split view",
                    f"the log shows another root for size {checkpoint.size}, which this "
                    "witness cosigned with a different one",
                )
            kept = state.cosigned_path(origin, checkpoint.size)
            if kept.is_file():
                return Outcome(size=checkpoint.size, note=kept.read_text("utf-8"), new=False)
        elif last.size > 0:
            proof = consistency(last.size, checkpoint.size)
            try:
                verify_consistency(
                    old_size=last.size,
                    new_size=checkpoint.size,
                    old_root=last.root_hash,
                    new_root=checkpoint.root_hash,
                    proof=proof,
                )
            except InvalidProofError as error:
                raise WitnessRefusal(
                    "inconsistent",
                    f"size {checkpoint.size} does not extend the cosigned size {last.size}: "
                    f"{error} (history rewritten)",
                ) from None
    # Never before the last cosignature's time: a clock set back would otherwise sign
    # a newer head as older.
    timestamp = max(int(now()), last.timestamp if last else 0)
    state.record(origin, Cosigned(checkpoint.size, checkpoint.root_hash, timestamp))
    line = cosigner.cosign(text, timestamp=timestamp).line()
    cosigned = note + line
    state.keep_cosigned(origin, checkpoint.size, cosigned)
    return Outcome(size=checkpoint.size, note=cosigned, new=True)


class LogClient:
    """The log's public endpoints over HTTP(S): checkpoint, consistency, cosignatures."""

    def __init__(self, base_url: str, *, timeout: float = 10.0) -> None:
        if urllib.parse.urlsplit(base_url).scheme not in ("http", "https"):
            raise WitnessError(f"the log's URL must be http(s), not {base_url!r}")
        self.base = base_url.rstrip("/") + "/api/v2/audit-log/"
        self.timeout = timeout

    def _open(self, request: urllib.request.Request | str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                return response.status, response.read(1 << 20)
        except urllib.error.HTTPError as error:
            return error.code, error.read(4096)
        except (urllib.error.URLError, OSError) as error:
            raise WitnessError(f"the log at {self.base} cannot be reached: {error}") from error

    def checkpoint(self) -> str:
        status, body = self._open(self.base + "checkpoint")
        if status != 200:
            raise WitnessError(f"the log answered {status} for its checkpoint")
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError:
            raise WitnessError("the log's checkpoint is not UTF-8") from None

    def consistency(self, old_size: int, new_size: int) -> list[bytes]:
        query = urllib.parse.urlencode({"from": old_size, "to": new_size})
        status, body = self._open(self.base + "consistency?" + query)
        if status != 200:
            # The log refuses to prove it: as good as a failed proof.
            raise WitnessRefusal(
                "inconsistent", f"the log answered {status} for a consistency proof"
            )
        try:
            document = json.loads(body)
            return [base64.b64decode(node, validate=True) for node in document["proof"]]
        except (ValueError, KeyError, TypeError):
            raise WitnessRefusal("inconsistent", "the consistency proof is malformed") from None

    def submit(self, note: str) -> int:
        request = urllib.request.Request(  # noqa: S310 (the scheme is checked in __init__)
            self.base + "cosignatures",
            data=note.encode("utf-8"),
            headers={"Content-Type": "text/plain; charset=utf-8"},
            method="POST",
        )
        status, _ = self._open(request)
        return status


def alert(refusal: WitnessRefusal, *, origin: str) -> str:
    """Log the alert line of a refusal (no key, no note: what and for which log)."""
    line = f"ALERT {refusal.kind}: {origin}: {refusal}"
    logger.error(line)
    return line
