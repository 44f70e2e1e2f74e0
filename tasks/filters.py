"""Filters for the task list."""

import django_filters

from .models import OcrTask, Status
from .ocr.engines import available_engines


class TaskFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Status.choices)
    engine = django_filters.ChoiceFilter(choices=[(name, name) for name in available_engines()])
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = OcrTask
        fields: list[str] = []
