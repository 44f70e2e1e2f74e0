"""The offline verifier: the audit trail checked with public keys alone, no Django, no secret.

A package of its own (pyproject.toml beside this file: ``pip install
./audit/transparency/verifier`` installs it as ``ocr_audit_verifier`` with the command
``ocr-audit-verify``), whose modules the service imports as
``audit.transparency.verifier``:

- ``records``: an event's canonical record, its leaf bytes (and what its chain link is
  an HMAC of); ``audit.chain`` re-exports it.
- ``merkle``: RFC 6962 / RFC 9162 Merkle tree hashing, inclusion and consistency proofs
  built from a node store of complete subtrees, and their verification from the proof
  alone.
- ``signed_note``: Ed25519 C2SP signed notes and tlog checkpoints.
- ``tlog_cosignature``: witnesses' cosignatures of those checkpoints (cosignature/v1).
- ``exports``: an NDJSON export's lines rebuilt into the tree's leaves, fast.
- ``checkpoint_files``: the keys and checkpoint files the command is given, opened, and
  the witnesses' cosignatures of the newest counted.
- ``offline``: the command: an NDJSON export or one event's proof held against signed
  checkpoints.

They import the standard library, ``cryptography`` and one another (relatively, so the
files work under either name), nothing else: the import-linter contract "The offline
verifier imports nothing from Django or the project" in the project's pyproject.toml
checks it, and ``audit/tests/test_offline.py`` installs the package into a fresh
virtualenv that has no Django. This file imports nothing.
"""
