"""The log's Ed25519 keys and origin, as the settings name them.

The signer key (a secret) lives in AUDIT_CHECKPOINT_SIGNER_KEY_FILE, on the hosts that
sign (the worker); every other host needs only the verifier keys, the public half.
"""

from pathlib import Path

from django.conf import settings

from ocr_project.common.atomic_files import atomic_write

from .verifier.signed_note import NoteError, Signer, Verifier, generate_key


class KeyFileError(Exception):
    """The signer key file cannot be read, or written where asked."""


def log_origin() -> str:
    """Return the origin line of this log's checkpoints (AUDIT_LOG_ORIGIN)."""
    return settings.AUDIT_LOG_ORIGIN


def signer_key_path() -> Path:
    return Path(settings.AUDIT_CHECKPOINT_SIGNER_KEY_FILE)


def load_signer(path: Path | None = None) -> Signer | None:
    """Return the signer of the key file, or None when there is no key file."""
    path = path or signer_key_path()
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        raise KeyFileError(f"cannot read the signer key {path}: {error}") from error
    try:
        return Signer.from_key(text)
    except NoteError as error:
        raise KeyFileError(f"{path} does not hold a signer key: {error}") from error


def verifiers() -> list[Verifier]:
    """Return the keys checkpoints are verified with (settings, else the local key's)."""
    configured = settings.AUDIT_CHECKPOINT_VERIFIER_KEYS
    if configured:
        return [Verifier.from_key(key) for key in configured]
    signer = load_signer()
    return [signer.verifier()] if signer is not None else []


def create_key_file(*, name: str, path: Path | None = None) -> Signer:
    """Write a new signer key to the key file (mode 600); refuse to replace one.

    Raise FileExistsError when the file exists: a new key would leave every signed
    checkpoint verifiable only by whoever kept the old public key.
    """
    path = path or signer_key_path()
    skey, _ = generate_key(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    # atomic_write's temporary file is owner-only (mkstemp) and is linked in place, so
    # the key is never readable by others, never half-written, never overwritten.
    with atomic_write(path, overwrite=False) as handle:
        handle.write(skey + "\n")
    return Signer.from_key(skey)
