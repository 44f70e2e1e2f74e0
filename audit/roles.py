"""The database roles the PostgreSQL triggers admit for a write, and acting as one.

A setting any session may make (audit.sealing, audit.allow_prune) let any session
through the triggers; a role only its members and superusers may switch to does not.
So each table whose rows only one of our processes writes lets INSERT through only for
that process's role, which it switches to with SET LOCAL ROLE for the write alone:

- audit_sealer (migration 0021): the sealer links events and appends the Merkle tree's
  nodes, the worker stores the tree checkpoints it signs (migration 0023). Members: the
  worker's login.
- audit_cosignature_receiver (migration 0023): the web stores a witness's cosignature
  once it verified it. Members: the web's login.

Any other role could jam them: a node INSERTed at the next leaf index stops every
sealing round on the primary key, a checkpoint of a larger size stops every signing
("the tree was cut back"), a cosignature row under a witness's name keeps the
witness's real one out (one per witness key). Detected, but a denial of service by
anyone with INSERT on the table.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import DatabaseError, connections, transaction

SEALER_ROLE = "audit_sealer"
COSIGNATURE_ROLE = "audit_cosignature_receiver"


class RoleError(Exception):
    """This database login may not act as the role a write needs."""


@contextmanager
def acting_as(role: str, *, using: str = "default") -> Iterator[None]:
    """Run the block in a transaction (a savepoint inside one) as `role`, on PostgreSQL.

    Back to the role before once the block is done; a block that raises rolls the
    savepoint back, and SET LOCAL with it. SQLite has no roles: just the transaction.
    """
    connection = connections[using]
    with transaction.atomic(using=using):
        if connection.vendor != "postgresql":
            yield
            return
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_user")
            (before,) = cursor.fetchone()
        if before == role:
            yield
            return
        quote = connection.ops.quote_name
        try:
            with connection.cursor() as cursor:
                cursor.execute(f"SET LOCAL ROLE {quote(role)}")
        except DatabaseError as error:  # the block's savepoint rolls back with it
            raise RoleError(
                f"Cannot act as the database role {role} ({str(error).strip()}). Grant it to "
                "this process's login (README, Tamper evidence: no setting opens the triggers)."
            ) from error
        yield
        with connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL ROLE {quote(before)}")
