# Written by hand: the PostgreSQL triggers no longer trust audit.sealing, a setting any
# session may make.

from django.db import migrations

# Until now the UPDATE trigger let an unsealed row be linked, and the INSERT trigger let
# an already linked row in, whenever the transaction had said SET LOCAL audit.sealing =
# 'on': any session with UPDATE or INSERT on the table could link rows with links of its
# choosing (as 0017 found for audit.allow_prune and DELETE). Now both let it through only
# while the role running it is audit_sealer, a NOLOGIN role that exists for this alone;
# the sealer (audit/sealer.py, allow_sealing) switches to it with SET LOCAL ROLE for its
# writes and back. Only members of audit_sealer (and superusers) may switch to it.
#
# audit_sealer holds only what the sealer writes while it is that role: the events
# (SELECT, INSERT for the key-change event, UPDATE for the links), the chain head and
# the Merkle tree's nodes. The role running this migration is made a member when it may
# grant (it is usually the role the worker runs as); give membership to the worker's
# login alone where the web has its own and seals in the background (README).
#
# The DELETE trigger was already role-based (0017, audit_pruner); the checkpoint, node
# and cosignature tables refuse every UPDATE and DELETE whatever the role (0015, 0018,
# 0019). The setting audit.allow_prune is no longer read anywhere. What stays possible:
# a superuser, or the owner of the tables or functions, can disable the triggers
# (signed checkpoints kept elsewhere and the witnesses catch what follows).
#
# SQLite has neither roles nor these triggers: any process that can write the database
# file can write anything, and only verification (the chain, the tree, the checkpoints
# outside the database and the witnesses) detects it.
SEALER_ROLE_TRIGGERS = """
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'audit_sealer')
       AND (SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user) THEN
        BEGIN
            CREATE ROLE audit_sealer NOLOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;  -- created meanwhile by a migration of another database in the cluster
        END;
    END IF;
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'audit_sealer') THEN
        GRANT SELECT, INSERT, UPDATE ON audit_auditevent TO audit_sealer;
        GRANT SELECT, UPDATE ON audit_chainhead TO audit_sealer;
        GRANT SELECT, INSERT ON audit_merklenode TO audit_sealer;
        EXECUTE format(
            'GRANT USAGE ON SEQUENCE %s TO audit_sealer',
            pg_get_serial_sequence('audit_auditevent', 'id')
        );
        IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
           AND NOT pg_has_role(current_user, 'audit_sealer', 'MEMBER') THEN
            BEGIN
                EXECUTE format('GRANT audit_sealer TO %I', current_user);
            EXCEPTION WHEN insufficient_privilege THEN
                RAISE WARNING 'grant audit_sealer to the role the sealer runs as (README)';
            END;
        END IF;
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION audit_event_refuse_update() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.user_id IS NOT NULL AND NEW.user_id IS NULL
       AND to_jsonb(NEW) - 'user_id' = to_jsonb(OLD) - 'user_id' THEN
        RETURN NEW;
    END IF;
    IF current_user = 'audit_sealer'
       AND OLD.sequence IS NULL AND OLD.prev_hash IS NULL AND OLD.hash IS NULL
       AND NEW.sequence IS NOT NULL AND NEW.prev_hash IS NOT NULL AND NEW.hash IS NOT NULL
       AND to_jsonb(NEW) - ARRAY['sequence', 'prev_hash', 'hash', 'key_id']
           = to_jsonb(OLD) - ARRAY['sequence', 'prev_hash', 'hash', 'key_id'] THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit events are append-only: UPDATE of audit event id % refused', OLD.id
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE OR REPLACE FUNCTION audit_event_refuse_sealed_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.sequence IS NULL AND NEW.prev_hash IS NULL AND NEW.hash IS NULL THEN
        RETURN NEW;
    END IF;
    IF current_user = 'audit_sealer' THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit events are inserted unsealed; only the sealer links them'
        USING ERRCODE = 'insufficient_privilege';
END
$$;
"""

# Back to 0009's setting-based triggers; the role is left in place.
SETTING_TRIGGERS = """
CREATE OR REPLACE FUNCTION audit_event_refuse_update() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.user_id IS NOT NULL AND NEW.user_id IS NULL
       AND to_jsonb(NEW) - 'user_id' = to_jsonb(OLD) - 'user_id' THEN
        RETURN NEW;
    END IF;
    IF current_setting('audit.sealing', true) = 'on'
       AND OLD.sequence IS NULL AND OLD.prev_hash IS NULL AND OLD.hash IS NULL
       AND NEW.sequence IS NOT NULL AND NEW.prev_hash IS NOT NULL AND NEW.hash IS NOT NULL
       AND to_jsonb(NEW) - ARRAY['sequence', 'prev_hash', 'hash', 'key_id']
           = to_jsonb(OLD) - ARRAY['sequence', 'prev_hash', 'hash', 'key_id'] THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit events are append-only: UPDATE of audit event id % refused', OLD.id
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE OR REPLACE FUNCTION audit_event_refuse_sealed_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.sequence IS NULL AND NEW.prev_hash IS NULL AND NEW.hash IS NULL THEN
        RETURN NEW;
    END IF;
    IF current_setting('audit.sealing', true) = 'on' THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit events are inserted unsealed; only the sealer links them'
        USING ERRCODE = 'insufficient_privilege';
END
$$;
"""


def sealer_role_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(SEALER_ROLE_TRIGGERS, params=None)


def setting_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(SETTING_TRIGGERS, params=None)


class Migration(migrations.Migration):

    dependencies = [
        ('audit', '0020_witness_cosignature'),
    ]

    operations = [
        migrations.RunPython(sealer_role_triggers, setting_triggers),
    ]
