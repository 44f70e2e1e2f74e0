"""Drop the user column's own index: audit_user_seq (user, sequence) already serves it.

Only the index is dropped. Django's AlterField would copy the whole audit table on
SQLite to change db_index (minutes for millions of rows); the state change alone
needs no copy, so the database side is a plain DROP INDEX, found by introspection.
"""

from django.conf import settings
from django.db import migrations, models


def single_column_user_indexes(schema_editor, model) -> list[str]:
    with schema_editor.connection.cursor() as cursor:
        constraints = schema_editor.connection.introspection.get_constraints(
            cursor, model._meta.db_table
        )
    return [
        name
        for name, info in constraints.items()
        if info["index"] and not info["unique"] and info["columns"] == ["user_id"]
    ]


def drop_user_index(apps, schema_editor):
    model = apps.get_model("audit", "AuditEvent")
    for name in single_column_user_indexes(schema_editor, model):
        schema_editor.execute(schema_editor._delete_index_sql(model, name))


def restore_user_index(apps, schema_editor):
    model = apps.get_model("audit", "AuditEvent")
    if not single_column_user_indexes(schema_editor, model):
        field = model._meta.get_field("user")
        schema_editor.execute(schema_editor._create_index_sql(model, fields=[field]))


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0004_filter_indexes_follow_sequence"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="auditevent",
                    name="user",
                    field=models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        db_index=False,
                        null=True,
                        on_delete=models.deletion.SET_NULL,
                        related_name="audit_events",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            database_operations=[
                migrations.RunPython(drop_user_index, restore_user_index),
            ],
        ),
    ]
