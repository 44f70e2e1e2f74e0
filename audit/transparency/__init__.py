"""A trail anyone can verify without our secrets: public formats, public keys.

What lives here follows published specifications with their test vectors, never a format
of our own (docs: RFC 9162 section 2, c2sp.org/signed-note, c2sp.org/tlog-checkpoint):

- ``merkle``: RFC 6962 / RFC 9162 Merkle tree hashing, inclusion and consistency proofs
  built from a node store of complete subtrees, and their verification from the proof
  alone. Pure Python, no Django: a verifier outside the service can run it as it is.
- ``records``: an event's canonical record, its leaf bytes (and what its chain link is an
  HMAC of); ``audit.chain`` re-exports it. Pure Python, no Django.
- ``offline``: the auditor's verifier (``python -m audit.transparency.verifier.offline``): an
  NDJSON export or one event's proof held against signed checkpoints with the public key
  alone. It imports ``records``, ``merkle`` and ``signed_note`` only, runs with Python and
  ``cryptography``, and these three files and it can be copied out as they are.
- ``node_store``: the node store kept in the database (``audit.models.MerkleNode``).
- ``signed_note``: Ed25519 signed notes and tlog checkpoints (the signed tree head).
- ``tree``: the audit trail's tree, one leaf per sealed event (its canonical record),
  appended by the sealer.
- ``keys``: the log's signer and verifier keys and origin, from the settings.
- ``tree_heads``: the worker's signed tree heads, stored and written to the
  checkpoint directory.
- ``verification``: the tree recomputed from the events, checkpoints held against it.
- ``proofs``: inclusion and consistency proofs for the API.
- ``cosignatures``: witness cosignatures accepted, stored, served and counted.
- ``witness``: the witness (``manage.py audit_witness``, another party's process): its
  key and state, and the checks before it cosigns. It imports ``merkle``,
  ``signed_note`` and ``ocr_project.common.atomic_files`` only: no Django, no database.

Anything in ``audit`` may import these modules; ``records``, ``merkle`` and
``signed_note`` import nothing from the project (``offline`` only them); ``node_store``
only ``audit.models``; the others import ``audit``'s models, chain and integrity, never
its services or interfaces. This file and ``audit/__init__.py`` import nothing at all
(``audit/tests/test_offline.py`` checks both): the verifier's copy needs them.
"""
