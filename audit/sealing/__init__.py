"""Link committed audit events into the keyed chain, in batches, without a writers' lock.

record_event inserts an event unsealed (sequence, prev_hash and hash NULL) in the
caller's transaction and takes no shared lock. A sealer then takes the chain head,
reads committed unsealed events in (timestamp, id) order and fills in their links.

Which events are safe to seal: every event stamped before the cutoff has committed
(or rolled back), so no later commit can slot in before an already sealed event and
timestamps never run backwards along the chain.

- PostgreSQL stamps events with the database clock (clock_timestamp(), one clock for
  every host), always at or after the start of the inserting transaction. The cutoff
  is the start of the oldest transaction still holding a lock on the event table (a
  writer of events, pg_locks), else now: one that wrote other tables only is no reason
  to wait (sealing_cutoff says why that is enough).
- SQLite has one writer at a time: a sealer holding the write lock (IMMEDIATE) knows
  every event stamped before now has committed.

Several sealers may run on any hosts: each batch goes to the one holding the sealer
lease (audit/lease.py), renewed in the batch's own transaction with a generation that
fences out a holder once another took over; the others stand by until it expires.

The package, by role: ``heads`` (the chain head and its time), ``cutoff`` (what is safe
to seal now, the sealer role), ``refusals`` (the writer MAC, and rows never linked),
``batches`` (one batch linked into the chain and the tree), ``backlog`` (what waits,
and for how long), ``loop`` (the sealer process: seal, then stream).

Imports ``audit``'s models, chain and events, ``audit.lease``, the tree
(``audit.transparency``) and the stream (``audit.siem``), which the loop writes after
each batch; imported by ``audit.services`` (inline sealing), retention, health, the
admin, the dashboard and the commands. Nothing below it imports it (the layers
contract in pyproject.toml).
"""
