# Written by hand: on PostgreSQL only the role that writes them may INSERT the Merkle
# tree's nodes, the tree checkpoints and the witness cosignatures.
#
# Until now any role with INSERT on them could (an application role granted every
# table, as the web and the worker are): a node at the next leaf index stopped every
# sealing round on the primary key, a checkpoint of a larger size stopped every signing
# ("the tree was cut back"), a cosignature row under a witness's name and key kept the
# witness's real one out (the first of each key stands). Detected (verify exits 1), but
# a denial of service by any web host. Now a statement trigger refuses the INSERT unless
# the role running it is the one that writes the table (audit/roles.py):
#
# - audit_merklenode, audit_treecheckpoint: audit_sealer (0021), which the sealer and
#   the worker's checkpoint signer switch to with SET LOCAL ROLE for the write;
# - audit_witnesscosignature: audit_cosignature_receiver, a NOLOGIN role made here,
#   which the web switches to when it stores a witness's cosignature.
#
# As in 0021, the role running this migration is made a member of both when it may
# grant; where the web and the worker have logins of their own, give audit_sealer to
# the worker's and audit_cosignature_receiver to the web's (README). A superuser, or
# the tables' owner, can still disable the triggers.
#
# SQLite has neither roles nor triggers: any writer of the database file can insert
# anything, and verification tells (a node the tree does not compute, a checkpoint the
# tree does not reproduce, a cosignature that does not verify).

from django.db import migrations

RECEIVER = "audit_cosignature_receiver"

WRITERS = {
    "audit_merklenode": "audit_sealer",
    "audit_treecheckpoint": "audit_sealer",
    "audit_witnesscosignature": RECEIVER,
}

ROLES = f"""
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{RECEIVER}')
       AND (SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user) THEN
        BEGIN
            CREATE ROLE {RECEIVER} NOLOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;  -- created meanwhile by a migration of another database in the cluster
        END;
    END IF;
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'audit_sealer') THEN
        GRANT SELECT, INSERT ON audit_treecheckpoint TO audit_sealer;
        EXECUTE format(
            'GRANT USAGE ON SEQUENCE %s TO audit_sealer',
            pg_get_serial_sequence('audit_treecheckpoint', 'id')
        );
    END IF;
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = '{RECEIVER}') THEN
        -- SELECT for INSERT ... RETURNING id, and the checkpoint it cosigns.
        GRANT SELECT, INSERT ON audit_witnesscosignature TO {RECEIVER};
        GRANT SELECT ON audit_treecheckpoint TO {RECEIVER};
        EXECUTE format(
            'GRANT USAGE ON SEQUENCE %s TO {RECEIVER}',
            pg_get_serial_sequence('audit_witnesscosignature', 'id')
        );
        IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
           AND NOT pg_has_role(current_user, '{RECEIVER}', 'MEMBER') THEN
            BEGIN
                EXECUTE format('GRANT {RECEIVER} TO %I', current_user);
            EXCEPTION WHEN insufficient_privilege THEN
                RAISE WARNING 'grant {RECEIVER} to the role the web runs as (README)';
            END;
        END IF;
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION audit_insert_only_as() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF current_user = TG_ARGV[0] THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION '% takes rows only from the role %: INSERT refused',
        TG_TABLE_NAME, TG_ARGV[0]
        USING ERRCODE = 'insufficient_privilege';
END
$$;
"""


def trigger_name(table: str) -> str:
    return f"{table}_insert_role"


def create_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(ROLES, params=None)
    for table, role in WRITERS.items():
        # Per statement: one check for a batch of nodes, and COPY fires it too.
        schema_editor.execute(
            f"CREATE TRIGGER {trigger_name(table)} BEFORE INSERT ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION audit_insert_only_as('{role}')",
            params=None,
        )


def drop_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in WRITERS:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {trigger_name(table)} ON {table}")
    schema_editor.execute("DROP FUNCTION IF EXISTS audit_insert_only_as()")


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0022_refuse_truncate"),
    ]

    operations = [
        migrations.RunPython(create_triggers, drop_triggers, elidable=False),
    ]
