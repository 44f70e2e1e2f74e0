"""One worker command: ocr_worker. django-tasks-db's db_worker is not shadowed."""

from django.core.management import get_commands


def test_db_worker_is_django_tasks_dbs_own_and_ocr_worker_is_ours():
    commands = get_commands()

    # Which app a command comes from used to depend on INSTALLED_APPS order (audit's
    # db_worker shadowed django-tasks-db's); now each name has one owner.
    assert commands["db_worker"] == "django_tasks_db"
    assert commands["ocr_worker"] == "tasks"
