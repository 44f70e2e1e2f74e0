"""The failed task's error code (tasks.failures), and verbose names on the task's fields.

Adding error_code makes Django rebuild tasks_ocrtask on SQLite, which drops the search
index's triggers (see 0005): they are installed again after the change either way, and
every task indexed again.
"""

import importlib

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

search_sqlite = importlib.import_module("tasks.migrations.0005_task_text_search_sqlite")


class Migration(migrations.Migration):

    dependencies = [
        ('tasks', '0007_page_dpi_notes_task_force_ocr'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        # Runs last when unapplying, after error_code is removed again.
        migrations.RunPython(migrations.RunPython.noop, search_sqlite.install, elidable=False),
        migrations.AddField(
            model_name='ocrtask',
            name='error_code',
            field=models.CharField(blank=True, default='', max_length=40),
        ),
        migrations.AlterField(
            model_name='ocrtask',
            name='created_at',
            field=models.DateTimeField(auto_now_add=True, verbose_name='created at'),
        ),
        migrations.AlterField(
            model_name='ocrtask',
            name='engine',
            field=models.CharField(max_length=20, verbose_name='engine'),
        ),
        migrations.AlterField(
            model_name='ocrtask',
            name='language',
            field=models.CharField(max_length=20, verbose_name='language'),
        ),
        migrations.AlterField(
            model_name='ocrtask',
            name='original_name',
            field=models.CharField(max_length=255, verbose_name='file name'),
        ),
        migrations.AlterField(
            model_name='ocrtask',
            name='owner',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='ocr_tasks', to=settings.AUTH_USER_MODEL, verbose_name='owner'),
        ),
        migrations.AlterField(
            model_name='ocrtask',
            name='page_count',
            field=models.PositiveIntegerField(verbose_name='pages'),
        ),
        migrations.AlterField(
            model_name='ocrtask',
            name='pages_done',
            field=models.PositiveIntegerField(default=0, verbose_name='pages done'),
        ),
        migrations.AlterField(
            model_name='ocrtask',
            name='status',
            field=models.CharField(choices=[('queued', 'Queued'), ('processing', 'Processing'), ('completed', 'Completed'), ('failed', 'Failed')], default='queued', max_length=12, verbose_name='status'),
        ),
        migrations.RunPython(search_sqlite.install, migrations.RunPython.noop, elidable=False),
    ]
