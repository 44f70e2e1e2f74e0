"""Translated verbose names on every field of the task and page models (no SQL: names only).

The admin's change page showed "Content type", "Force ocr", "Heartbeat at" in Chinese too.
"""

import django.db.models.deletion
import uuid
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('tasks', '0008_task_error_code_verbose_names'),
    ]

    operations = [
        migrations.AlterModelOptions(
            name='ocrpage',
            options={'ordering': ['task', 'index'], 'verbose_name': 'OCR page', 'verbose_name_plural': 'OCR pages'},
        ),
        migrations.AlterField(
            model_name='ocrpage',
            name='attempt',
            field=models.PositiveSmallIntegerField(default=1, verbose_name='attempt'),
        ),
        migrations.AlterField(
            model_name='ocrpage',
            name='confidence',
            field=models.FloatField(blank=True, null=True, verbose_name='confidence'),
        ),
        migrations.AlterField(
            model_name='ocrpage',
            name='dpi',
            field=models.PositiveSmallIntegerField(blank=True, null=True, verbose_name='resolution (dpi)'),
        ),
        migrations.AlterField(
            model_name='ocrpage',
            name='height',
            field=models.PositiveIntegerField(default=0, verbose_name='height'),
        ),
        migrations.AlterField(
            model_name='ocrpage',
            name='image',
            field=models.FileField(blank=True, max_length=255, upload_to='', verbose_name='page image'),
        ),
        migrations.AlterField(
            model_name='ocrpage',
            name='index',
            field=models.PositiveIntegerField(verbose_name='index'),
        ),
        migrations.AlterField(
            model_name='ocrpage',
            name='lines',
            field=models.JSONField(blank=True, default=list, verbose_name='lines'),
        ),
        migrations.AlterField(
            model_name='ocrpage',
            name='note',
            field=models.CharField(blank=True, max_length=300, verbose_name='note'),
        ),
        migrations.AlterField(
            model_name='ocrpage',
            name='orientation_certain',
            field=models.BooleanField(default=True, verbose_name='orientation certain'),
        ),
        migrations.AlterField(
            model_name='ocrpage',
            name='rotation',
            field=models.PositiveSmallIntegerField(default=0, verbose_name='rotation'),
        ),
        migrations.AlterField(
            model_name='ocrpage',
            name='seconds',
            field=models.FloatField(default=0, verbose_name='seconds'),
        ),
        migrations.AlterField(
            model_name='ocrpage',
            name='skew',
            field=models.FloatField(default=0, verbose_name='skew'),
        ),
        migrations.AlterField(
            model_name='ocrpage',
            name='source',
            field=models.CharField(choices=[('ocr', 'OCR'), ('text_layer', 'PDF text layer')], max_length=12, verbose_name='source'),
        ),
        migrations.AlterField(
            model_name='ocrpage',
            name='task',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='pages', to='tasks.ocrtask', verbose_name='OCR task'),
        ),
        migrations.AlterField(
            model_name='ocrpage',
            name='text',
            field=models.TextField(blank=True, verbose_name='text'),
        ),
        migrations.AlterField(
            model_name='ocrpage',
            name='text_layer',
            field=models.CharField(blank=True, max_length=300, verbose_name='PDF text layer'),
        ),
        migrations.AlterField(
            model_name='ocrpage',
            name='width',
            field=models.PositiveIntegerField(default=0, verbose_name='width'),
        ),
        migrations.AlterField(
            model_name='ocrtask',
            name='attempts',
            field=models.PositiveSmallIntegerField(default=0, verbose_name='attempts'),
        ),
        migrations.AlterField(
            model_name='ocrtask',
            name='content_type',
            field=models.CharField(max_length=40, verbose_name='content type'),
        ),
        migrations.AlterField(
            model_name='ocrtask',
            name='error',
            field=models.CharField(blank=True, max_length=500, verbose_name='error'),
        ),
        migrations.AlterField(
            model_name='ocrtask',
            name='error_code',
            field=models.CharField(blank=True, default='', max_length=40, verbose_name='error code'),
        ),
        migrations.AlterField(
            model_name='ocrtask',
            name='file',
            field=models.FileField(max_length=255, upload_to='', verbose_name='file'),
        ),
        migrations.AlterField(
            model_name='ocrtask',
            name='finished_at',
            field=models.DateTimeField(blank=True, null=True, verbose_name='finished at'),
        ),
        migrations.AlterField(
            model_name='ocrtask',
            name='force_ocr',
            field=models.BooleanField(default=False, verbose_name='OCR every page'),
        ),
        migrations.AlterField(
            model_name='ocrtask',
            name='heartbeat_at',
            field=models.DateTimeField(blank=True, null=True, verbose_name='last sign of life'),
        ),
        migrations.AlterField(
            model_name='ocrtask',
            name='id',
            field=models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False, verbose_name='ID'),
        ),
        migrations.AlterField(
            model_name='ocrtask',
            name='job_id',
            field=models.CharField(blank=True, max_length=64, verbose_name='job ID'),
        ),
        migrations.AlterField(
            model_name='ocrtask',
            name='phase',
            field=models.CharField(blank=True, choices=[('', 'None'), ('rendering', 'Rendering'), ('reading', 'Reading'), ('building', 'Building outputs')], default='', max_length=12, verbose_name='phase'),
        ),
        migrations.AlterField(
            model_name='ocrtask',
            name='request_id',
            field=models.CharField(blank=True, max_length=64, verbose_name='request ID'),
        ),
        migrations.AlterField(
            model_name='ocrtask',
            name='result_text',
            field=models.TextField(blank=True, verbose_name='recognised text'),
        ),
        migrations.AlterField(
            model_name='ocrtask',
            name='searchable_pdf',
            field=models.FileField(blank=True, max_length=255, upload_to='', verbose_name='searchable PDF'),
        ),
        migrations.AlterField(
            model_name='ocrtask',
            name='sha256',
            field=models.CharField(max_length=64, verbose_name='SHA-256'),
        ),
        migrations.AlterField(
            model_name='ocrtask',
            name='size',
            field=models.PositiveBigIntegerField(verbose_name='size'),
        ),
        migrations.AlterField(
            model_name='ocrtask',
            name='started_at',
            field=models.DateTimeField(blank=True, null=True, verbose_name='started at'),
        ),
    ]
