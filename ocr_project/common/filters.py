"""Filter forms every list API uses: typed parameters are strict, times are UTC."""

from datetime import UTC

import django_filters
from django import forms
from django.core.exceptions import ValidationError


class StrictFilterForm(forms.Form):
    """Refuse a typed parameter sent empty (``?since=``) instead of ignoring it.

    django-filter treats an empty value as an absent one, so ``created_before=`` listed
    everything as if the client had not asked. An empty string is no date-time, number,
    address or choice: it is a 400 naming the parameter, like any other bad value. Only
    free text (a plain CharField: ``q``, ``username``) may be empty, and empty means no
    filter.
    """

    def clean(self):
        cleaned = super().clean()
        for name, field in self.fields.items():
            if type(field) is not forms.CharField and self.data.get(name) == "":
                self.add_error(name, "Enter a value, or leave the parameter out.")
        return cleaned


class UtcDateTimeField(django_filters.fields.IsoDateTimeField):
    """An ISO 8601 date-time, converted to UTC."""

    def to_python(self, value):
        value = super().to_python(value)
        if value is None:
            return None
        try:
            # Converted here: an offset that moves the time past year 1 or 9999 is a bad
            # filter (400), not an OverflowError or a DataError in the database (500).
            return value.astimezone(UTC)
        except OverflowError:
            raise ValidationError(self.error_messages["invalid"], code="invalid") from None


class UtcDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcDateTimeField
