from django.conf import settings
from django.db import migrations, models


class AddIndexWithoutBlockingWrites(migrations.AddIndex):
    """AddIndex, built CONCURRENTLY on PostgreSQL.

    A plain CREATE INDEX holds a lock that blocks INSERTs until it is built (tens of
    seconds on a trail of millions of events), and every audited request INSERTs.
    SQLite has no such option and builds it as usual.
    """

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            return super().database_forwards(app_label, schema_editor, from_state, to_state)
        model = to_state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            # A CONCURRENTLY build that failed (or was interrupted) leaves an INVALID
            # index of that name behind, and the next attempt would stop at "already
            # exists": drop it first, so running migrate again is the whole recovery.
            with schema_editor.connection.cursor() as cursor:
                cursor.execute(
                    "SELECT 1 FROM pg_index JOIN pg_class ON pg_class.oid = pg_index.indexrelid"
                    " WHERE pg_class.relname = %s AND NOT pg_index.indisvalid",
                    [self.index.name],
                )
                invalid = cursor.fetchone() is not None
            if invalid:
                schema_editor.remove_index(model, self.index, concurrently=True)
            schema_editor.add_index(model, self.index, concurrently=True)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            return super().database_backwards(app_label, schema_editor, from_state, to_state)
        model = from_state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            schema_editor.remove_index(model, self.index, concurrently=True)


class Migration(migrations.Migration):
    # CREATE INDEX CONCURRENTLY cannot run inside a transaction.
    atomic = False

    dependencies = [
        ("audit", "0012_writer_mac"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        AddIndexWithoutBlockingWrites(
            model_name="auditevent",
            index=models.Index(
                fields=["user", "event_type", "sequence"], name="audit_user_type_seq"
            ),
        ),
    ]
