"""A trail anyone can verify without our secrets: public formats, public keys.

What lives here follows published specifications with their test vectors, never a format
of our own (docs: RFC 9162 section 2, c2sp.org/signed-note, c2sp.org/tlog-checkpoint):

- ``verifier``: a package of its own, ``pip install ./audit/transparency/verifier``
  (ocr-audit-verifier, the command ``ocr-audit-verify``), with no Django and nothing of
  the project: ``records`` (an event's canonical record, its leaf bytes; ``audit.chain``
  re-exports it), ``merkle`` (RFC 6962 / RFC 9162 hashing, proofs from a node store of
  complete subtrees, their verification), ``signed_note`` (Ed25519 signed notes, tlog
  checkpoints, cosignatures), ``exports`` and ``offline`` (the auditor's verifier: an
  NDJSON export or one event's proof held against signed checkpoints).
- ``node_store``: the node store kept in the database (``audit.models.MerkleNode``).
- ``tree``: the audit trail's tree, one leaf per sealed event (its canonical record),
  appended by the sealer.
- ``keys``: the log's signer and verifier keys and origin, from the settings.
- ``tree_heads``: the worker's signed tree heads, stored and written to the
  checkpoint directory.
- ``verification``: the tree recomputed from the events, checkpoints held against it.
- ``proofs``: inclusion and consistency proofs for the API.
- ``cosignatures``: witness cosignatures accepted, stored, served and counted.
- ``witness``: the witness (``manage.py audit_witness``, another party's process): its
  key and state, and the checks before it cosigns. It imports the verifier's ``merkle``
  and ``signed_note`` and ``ocr_project.common.atomic_files`` only: no Django, no database.

Anything in ``audit`` may import these modules; ``verifier`` imports nothing from
Django or the project (an import-linter contract); ``node_store`` only
``audit.models``; the others import ``audit``'s models and the row walk of
``audit.verification.rows``, never its services, the sealer or interfaces (the layers
contract in pyproject.toml). ``audit.chain`` imports ``verifier.records``: the chain
links the very record an auditor's verifier reads.
"""
