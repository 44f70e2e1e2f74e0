"""Verifying the trail: walk the chain, check what anchors it, hold checkpoints.

- ``rows``: the row tuples a walk reads, the walk (``ChainWalk``), snapshots.
- ``parallel`` / ``pool`` / ``worker``: a long chain split into parts for processes
  (``worker`` is what a spawned interpreter imports before Django is set up).
- ``verify``: ``verify_chain``, the one verifier the command, the dashboard and the
  checkpoint writer share.
- ``archives``: retention archives, read and verified as chains of their own.
- ``anchors``: what must still be there and match (checkpoints, archives).
- ``checkpoints``: signing, storing and reading the chain head's checkpoints.

Imports ``audit``'s models, chain, events, expressions and timestamps only; imported by
transparency (the row walk), the SIEM stream (a checkpoint's document), retention, the
worker's duties, the dashboard and the commands. No module here imports another in a
circle, nor anything above it (the import contracts in pyproject.toml).
"""
