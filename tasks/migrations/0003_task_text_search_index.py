"""A stored tsvector of the recognised text with a GIN index, on PostgreSQL only.

Stored, not an index on to_tsvector(result_text): measured at 10,000 pages, the planner
chose a scan that re-parsed every document's text (2.5 s); with the vector stored, a
row costs a lookup, not a parse, and ANALYZE gives the planner word statistics.
The column is not on the Django model (SQLite has no tsvector): only
tasks.selectors.task_search reads it, and PostgreSQL keeps it up to date itself.
On SQLite this migration does nothing; search falls back to a substring match.
"""

from django.db import migrations

COLUMN = "text_search"
INDEX = "task_text_search"


def add_search_column(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"ALTER TABLE tasks_ocrtask ADD COLUMN IF NOT EXISTS {COLUMN} tsvector "
        "GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, COALESCE(result_text, ''))) "
        "STORED"
    )
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {INDEX} ON tasks_ocrtask USING gin ({COLUMN}) "
        # No pending list: a task's text is written once and searched often, and a long
        # pending list (measured after 10,000 inserts) made the planner pass the index by.
        "WITH (fastupdate = off)"
    )


def drop_search_column(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"ALTER TABLE tasks_ocrtask DROP COLUMN IF EXISTS {COLUMN}")


class Migration(migrations.Migration):
    dependencies = [("tasks", "0002_page_orientation_task_phase_outputs")]

    operations = [migrations.RunPython(add_search_column, drop_search_column, elidable=False)]
