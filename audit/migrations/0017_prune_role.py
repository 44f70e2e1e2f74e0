# Written by hand: the PostgreSQL DELETE trigger no longer trusts a setting any session
# may make.

from django.db import migrations

# Until now the statement trigger on DELETE let rows go whenever the transaction had said
# SET LOCAL audit.allow_prune = 'on', which any session may say: an application role with
# DELETE on the table could remove any events. Now it lets a DELETE through only when the
# role running it is audit_pruner, a NOLOGIN role that exists for this alone. Retention
# (audit/retention.py) switches to it with SET LOCAL ROLE for the one DELETE and back at
# once; only members of audit_pruner (and superusers) may do that, so the web and worker
# role, which is not a member, cannot delete whatever it sets.
#
# What this does not stop: a superuser (who may SET ROLE to anything, or drop the trigger)
# and the owner of the table or of this function (who may disable the trigger or replace
# the function). Run the application as a role that owns neither; see the README.
#
# The role is cluster-wide. It is created here when the migrating role may create roles
# (superuser or CREATEROLE) and granted SELECT and DELETE on the event table; otherwise an
# administrator creates and grants it (README), and retention refuses to run until then.
PRUNE_ROLE_TRIGGER = """
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'audit_pruner')
       AND (SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user) THEN
        BEGIN
            CREATE ROLE audit_pruner NOLOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;  -- created meanwhile by a migration of another database in the cluster
        END;
    END IF;
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'audit_pruner') THEN
        GRANT SELECT, DELETE ON audit_auditevent TO audit_pruner;
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION audit_event_refuse_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF current_user = 'audit_pruner' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'audit events are append-only: DELETE refused (use the audit_retention command)'
        USING ERRCODE = 'insufficient_privilege';
END
$$;
"""

# Back to 0003's trigger; the role is left in place (other databases may use it).
SETTING_TRIGGER = """
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'audit_pruner') THEN
        REVOKE SELECT, DELETE ON audit_auditevent FROM audit_pruner;
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION audit_event_refuse_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('audit.allow_prune', true) = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'audit events are append-only: DELETE refused (use the audit_retention command)'
        USING ERRCODE = 'insufficient_privilege';
END
$$;
"""


def prune_role_trigger(apps, schema_editor):
    # SQLite: the model and queryset guards apply, as before.
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PRUNE_ROLE_TRIGGER, params=None)


def setting_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(SETTING_TRIGGER, params=None)


class Migration(migrations.Migration):

    dependencies = [
        ('audit', '0016_client_request_id_index'),
    ]

    operations = [
        migrations.RunPython(prune_role_trigger, setting_trigger),
    ]
