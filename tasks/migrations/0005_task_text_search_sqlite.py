"""An FTS5 index of each task's recognised text, on SQLite only (PostgreSQL: 0003).

FTS5 needs an integer rowid per document, and a task's primary key is a UUID: the
implicit rowid of tasks_ocrtask may change on VACUUM (SQLite only promises stable
rowids for an INTEGER PRIMARY KEY), which would pair one task's id with another task's
words. So tasks_ocrtask_search_key gives each task an INTEGER PRIMARY KEY of its own,
and tasks_ocrtask_search is a contentless FTS5 table keyed by it: it stores the words,
not the text, which stays in tasks_ocrtask alone.

Triggers keep it in step with every insert, change of result_text and delete, whoever
makes them (the ORM, raw SQL, a flush). A contentless index forgets a row only when told
the exact text it indexed, so the triggers always index a task's text (empty too) and
always remove it with the old text. Django rebuilds a SQLite table for some schema
changes and drops its triggers with it: a later migration that alters tasks_ocrtask on
SQLite must run install() again (tasks/tests/test_task_list.py fails until it does).
Without FTS5 compiled into SQLite this does nothing; search then falls back to LIKE.
"""

from django.db import migrations

FTS = "tasks_ocrtask_search"
KEY = "tasks_ocrtask_search_key"
TRIGGERS = (
    "tasks_ocrtask_search_insert",
    "tasks_ocrtask_search_update",
    "tasks_ocrtask_search_delete",
)


def fts5_available(connection) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT sqlite_compileoption_used('ENABLE_FTS5')")
        return bool(cursor.fetchone()[0])


def uninstall(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "sqlite":
        return
    for trigger in TRIGGERS:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    schema_editor.execute(f"DROP TABLE IF EXISTS {FTS}")
    schema_editor.execute(f"DROP TABLE IF EXISTS {KEY}")


def install(apps, schema_editor) -> None:
    """Create (or create again) the index, its keys and triggers, and index every task."""
    if schema_editor.connection.vendor != "sqlite" or not fts5_available(schema_editor.connection):
        return
    uninstall(apps, schema_editor)
    schema_editor.execute(
        f"CREATE TABLE {KEY} (id INTEGER PRIMARY KEY, task_id TEXT NOT NULL UNIQUE)"
    )
    # unicode61 without removing diacritics: whole words in any case, as PostgreSQL's
    # "simple" configuration matches them.
    schema_editor.execute(
        f"CREATE VIRTUAL TABLE {FTS} USING fts5("
        "result_text, content='', tokenize='unicode61 remove_diacritics 0')"
    )
    key_of = f"(SELECT id FROM {KEY} WHERE task_id = {{row}}.id)"
    schema_editor.execute(
        f"CREATE TRIGGER {TRIGGERS[0]} AFTER INSERT ON tasks_ocrtask BEGIN "
        f"INSERT INTO {KEY} (task_id) VALUES (new.id); "
        f"INSERT INTO {FTS} (rowid, result_text) VALUES ({key_of.format(row='new')}, new.result_text); "
        "END"
    )
    schema_editor.execute(
        f"CREATE TRIGGER {TRIGGERS[1]} AFTER UPDATE OF result_text ON tasks_ocrtask "
        "WHEN old.result_text IS NOT new.result_text BEGIN "
        f"INSERT INTO {FTS} ({FTS}, rowid, result_text) "
        f"VALUES ('delete', {key_of.format(row='old')}, old.result_text); "
        f"INSERT INTO {FTS} (rowid, result_text) VALUES ({key_of.format(row='new')}, new.result_text); "
        "END"
    )
    schema_editor.execute(
        f"CREATE TRIGGER {TRIGGERS[2]} AFTER DELETE ON tasks_ocrtask BEGIN "
        f"INSERT INTO {FTS} ({FTS}, rowid, result_text) "
        f"VALUES ('delete', {key_of.format(row='old')}, old.result_text); "
        f"DELETE FROM {KEY} WHERE task_id = old.id; "
        "END"
    )
    # The tasks already there.
    schema_editor.execute(f"INSERT INTO {KEY} (task_id) SELECT id FROM tasks_ocrtask")
    schema_editor.execute(
        f"INSERT INTO {FTS} (rowid, result_text) "
        f"SELECT {KEY}.id, tasks_ocrtask.result_text FROM {KEY} "
        f"JOIN tasks_ocrtask ON tasks_ocrtask.id = {KEY}.task_id"
    )


class Migration(migrations.Migration):
    dependencies = [("tasks", "0004_ocr_task_verbose_names")]

    operations = [migrations.RunPython(install, uninstall, elidable=False)]
