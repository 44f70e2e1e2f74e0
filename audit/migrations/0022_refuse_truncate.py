# Written by hand: TRUNCATE of the append-only tables is refused too (PostgreSQL).
#
# TRUNCATE fires no DELETE trigger, and it needs no ownership: the TRUNCATE privilege
# is enough, and GRANT ALL PRIVILEGES, the usual grant to an application role that owns
# nothing, includes it. So a role the DELETE triggers (0003, 0015, 0017, 0018, 0020)
# refuse could still empty the events, the tree's nodes, the signed checkpoints and the
# cosignatures in one statement each. Now a BEFORE TRUNCATE trigger refuses it to every
# role but a superuser and the table's owner (or its members), who could disable the
# trigger anyway (what remains possible, as before: the copies in AUDIT_CHECKPOINT_DIR and
# the witnesses catch it). Django's test flush runs as such a role and goes on working.
#
# SQLite has no TRUNCATE (and no roles).

from django.db import migrations

TABLES = (
    "audit_auditevent",
    "audit_merklenode",
    "audit_treecheckpoint",
    "audit_witnesscosignature",
)

CREATE_FUNCTION = """
CREATE OR REPLACE FUNCTION audit_refuse_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
       OR pg_has_role(
           current_user, (SELECT relowner FROM pg_class WHERE oid = TG_RELID), 'MEMBER'
       ) THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION '% is append-only: TRUNCATE refused', TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;
"""


def trigger_name(table: str) -> str:
    return f"{table}_no_truncate"


def create_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(CREATE_FUNCTION, params=None)
    for table in TABLES:
        schema_editor.execute(
            f"CREATE TRIGGER {trigger_name(table)} BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_truncate()",
            params=None,
        )


def drop_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {trigger_name(table)} ON {table}")
    schema_editor.execute("DROP FUNCTION IF EXISTS audit_refuse_truncate()")


class Migration(migrations.Migration):
    dependencies = [
        ('audit', '0021_sealer_role'),
    ]

    operations = [
        migrations.RunPython(create_triggers, drop_triggers, elidable=False),
    ]
