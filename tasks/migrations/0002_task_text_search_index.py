"""A GIN full-text index on the recognised text, on PostgreSQL only.

The expression must stay identical to the one tasks.selectors.task_search builds
(SearchVector("result_text", config="simple")), or the planner will not use the index.
On SQLite this migration does nothing: search falls back to a substring match.
"""

from django.db import migrations

INDEX = "task_result_text_fts"


def create_index(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {INDEX} ON tasks_ocrtask USING gin "
        "(to_tsvector('simple'::regconfig, COALESCE(result_text, '')))"
    )


def drop_index(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("tasks", "0001_initial")]

    operations = [migrations.RunPython(create_index, drop_index, elidable=False)]
