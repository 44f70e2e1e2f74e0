"""Explicit API shapes for OCR tasks."""

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from audit.serializers import CanonicalDateTimeField


class TaskOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.CharField()
    original_name = serializers.CharField()
    content_type = serializers.CharField()
    size = serializers.IntegerField()
    sha256 = serializers.CharField()
    page_count = serializers.IntegerField()
    pages_done = serializers.IntegerField()
    # queued, rendering, reading, building; "" once the task has finished.
    phase = serializers.CharField(source="current_phase")
    phase_label = serializers.CharField()
    no_text_found = serializers.BooleanField()
    engine = serializers.CharField()
    language = serializers.CharField()
    force_ocr = serializers.BooleanField()
    error = serializers.CharField()
    created_at = CanonicalDateTimeField()
    started_at = CanonicalDateTimeField(allow_null=True)
    finished_at = CanonicalDateTimeField(allow_null=True)


class TaskUploadInputSerializer(serializers.Serializer):
    file = serializers.ListField(
        child=serializers.FileField(allow_empty_file=True),
        # Declared (minItems: 1) as well as refused: an empty list is no upload.
        min_length=1,
        error_messages={"min_length": _("Choose at least one file to upload.")},
        help_text="One or more documents (repeat the field): PNG, JPEG, TIFF, WebP, BMP, PDF.",
    )
    engine = serializers.CharField(required=False, allow_blank=True, max_length=20)
    language = serializers.CharField(required=False, allow_blank=True, max_length=20)
    force_ocr = serializers.BooleanField(
        required=False,
        default=False,
        help_text="OCR every page, even PDF pages with a text layer (like OCRmyPDF --force-ocr). "
        "Without it a text layer is used only when it agrees with the page.",
    )


class CleanupInputSerializer(serializers.Serializer):
    older_than_days = serializers.IntegerField(min_value=0, max_value=36500, required=False)
    dry_run = serializers.BooleanField(default=False)


class CleanupOutputSerializer(serializers.Serializer):
    older_than_days = serializers.IntegerField()
    dry_run = serializers.BooleanField()
    tasks_deleted = serializers.IntegerField()
    files_deleted = serializers.IntegerField()
    orphan_files_deleted = serializers.IntegerField()
    temp_files_deleted = serializers.IntegerField()
    bytes_freed = serializers.IntegerField()
