"""Filters for the task list."""

import django_filters

from ocr_project.common.filters import StrictFilterForm, UtcDateTimeFilter

from ..models import OcrTask, Status
from ..ocr.engines import available_engines
from ..selectors import SORT_FIELDS, task_search, task_sort


class TaskFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Status.choices)
    engine = django_filters.ChoiceFilter(choices=[(name, name) for name in available_engines()])
    # Converted to UTC while validating: an out-of-range offset is a 400, not a 500.
    created_after = UtcDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UtcDateTimeFilter(field_name="created_at", lookup_expr="lt")
    # The same search and sorts as the task list page, through the same selectors.
    q = django_filters.CharFilter(
        method="filter_search", label="Words that must all appear in the recognised text"
    )
    sort = django_filters.ChoiceFilter(
        choices=[(key, key) for name in SORT_FIELDS for key in (name, f"-{name}")],
        method="filter_sort",
        label="Order by name, created, status or pages; a leading - reverses it",
    )

    def filter_search(self, queryset, name, value):
        return task_search(queryset, query=value)

    def filter_sort(self, queryset, name, value):
        return task_sort(queryset, sort=value)

    class Meta:
        model = OcrTask
        fields: list[str] = []
        form = StrictFilterForm
