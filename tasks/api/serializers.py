"""Explicit API shapes for OCR tasks."""

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from audit.api.serializers import CanonicalDateTimeField


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


# The full result (GET /api/v2/tasks/<id>/result?format=json), described for the schema;
# tasks.selectors.task_result_document builds it. Boxes are [x0, y0, x1, y1] in pixels of
# the page image as read (after any turn), origin top left; confidences are 0..100.
def _box(help_text: str) -> serializers.ListField:
    return serializers.ListField(
        child=serializers.IntegerField(), min_length=4, max_length=4, help_text=help_text
    )


class ResultWordSerializer(serializers.Serializer):
    text = serializers.CharField()
    confidence = serializers.FloatField(allow_null=True)
    box = _box("The word's box.")


class ResultLineSerializer(serializers.Serializer):
    text = serializers.CharField()
    confidence = serializers.FloatField(allow_null=True, help_text="Null for a PDF text layer.")
    box = _box("The line's box.")
    words = ResultWordSerializer(
        many=True, help_text="Empty for a PDF text layer's lines and pages read before words."
    )


class ResultStoredLineSerializer(ResultLineSerializer):
    block = serializers.IntegerField(
        required=False, help_text="Which block of the page, from 0 in reading order."
    )
    paragraph = serializers.IntegerField(
        required=False, help_text="Which paragraph of the page, from 0 in reading order."
    )


class ResultParagraphSerializer(serializers.Serializer):
    box = _box("The box around the paragraph's lines.")
    lines = ResultLineSerializer(many=True)


class ResultBlockSerializer(serializers.Serializer):
    box = _box("The box around the block's paragraphs.")
    paragraphs = ResultParagraphSerializer(many=True)


class ResultPageSerializer(serializers.Serializer):
    page = serializers.IntegerField(help_text="From 1.")
    # The metaclass takes declared fields off the class, so this does not shadow Field.source;
    # mypy sees only the class attribute.
    source = serializers.ChoiceField(choices=["ocr", "text_layer"])  # type: ignore[assignment]
    confidence = serializers.FloatField(allow_null=True)
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    rotation = serializers.IntegerField(help_text="Clockwise turns applied before reading.")
    skew = serializers.FloatField()
    orientation_certain = serializers.BooleanField()
    dpi = serializers.IntegerField(allow_null=True)
    note = serializers.CharField()
    text_layer = serializers.CharField()
    no_text_found = serializers.BooleanField()
    text = serializers.CharField()
    lines = ResultStoredLineSerializer(many=True, help_text="The lines in reading order.")
    blocks = ResultBlockSerializer(
        many=True,
        help_text="The same lines nested as blocks (a column of a section, a heading) and "
        "paragraphs, in reading order.",
    )


class TaskResultDocumentSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    original_name = serializers.CharField()
    status = serializers.CharField()
    engine = serializers.CharField()
    language = serializers.CharField()
    force_ocr = serializers.BooleanField()
    page_count = serializers.IntegerField()
    sha256 = serializers.CharField()
    pages = ResultPageSerializer(many=True)
    no_text_found = serializers.BooleanField()
    text = serializers.CharField()
