"""Page dpi, note and text-layer verdict; the task's "OCR every page" option.

Adding (or removing) force_ocr makes Django rebuild tasks_ocrtask on SQLite, which drops
the search index's triggers (see 0005): they are installed again after the change either
way, and every task indexed again.
"""

import importlib

from django.db import migrations, models

search_sqlite = importlib.import_module("tasks.migrations.0005_task_text_search_sqlite")


class Migration(migrations.Migration):

    dependencies = [
        ('tasks', '0006_page_attempt'),
    ]

    operations = [
        # Runs last when unapplying, after force_ocr is removed again.
        migrations.RunPython(migrations.RunPython.noop, search_sqlite.install, elidable=False),
        migrations.AddField(
            model_name='ocrpage',
            name='dpi',
            field=models.PositiveSmallIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='ocrpage',
            name='note',
            field=models.CharField(blank=True, max_length=300),
        ),
        migrations.AddField(
            model_name='ocrpage',
            name='text_layer',
            field=models.CharField(blank=True, max_length=300),
        ),
        migrations.AddField(
            model_name='ocrtask',
            name='force_ocr',
            field=models.BooleanField(default=False),
        ),
        migrations.RunPython(search_sqlite.install, migrations.RunPython.noop, elidable=False),
    ]
