"""Filters for the task list."""

import django_filters

from audit.filters import UtcDateTimeFilter

from .models import OcrTask, Status
from .ocr.engines import available_engines


class TaskFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Status.choices)
    engine = django_filters.ChoiceFilter(choices=[(name, name) for name in available_engines()])
    # Converted to UTC while validating: an out-of-range offset is a 400, not a 500.
    created_after = UtcDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UtcDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = OcrTask
        fields: list[str] = []
