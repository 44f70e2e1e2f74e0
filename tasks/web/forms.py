"""The upload form of the server-rendered pages."""

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _
from django_stubs_ext import StrOrPromise

from ..models import Status
from ..ocr.engines import available_engines
from ..selectors import SEARCH_MAX_CHARS, SORT_FIELDS
from ..uploads import human_size

# What the file picker offers; the server judges a file by its content, not by this.
ACCEPT = (
    ".png,.jpg,.jpeg,.tif,.tiff,.webp,.bmp,.pdf,"
    "image/png,image/jpeg,image/tiff,image/webp,image/bmp,application/pdf"
)


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """A file field that accepts several files; validation happens in the service."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(attrs={"multiple": True}))
        # The service refuses empty files, and audits the refusal, as it does for the API.
        kwargs.setdefault("allow_empty_file", True)
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        if isinstance(data, (list, tuple)):
            return [super(MultipleFileField, self).clean(item, initial) for item in data]
        return [super().clean(data, initial)] if data else []


class LanguageSelect(forms.Select):
    """The language list, each option marked with the engine that reads it.

    static/js/tasks.js offers only the languages of the chosen engine; the server's
    check (services.engine_choice.resolve_engine) stays the rule.
    """

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        for engine, languages in available_engines().items():
            if value in languages:
                option["attrs"]["data-engine"] = engine
        return option


ENGINE_LABELS = {"tesseract": "Tesseract", "rapidocr": "RapidOCR"}
# The engines' language codes in words; a code not named here is shown as it is.
LANGUAGE_LABELS: dict[str, StrOrPromise] = {
    "eng": _("English"),
    "en": _("English"),
    "ch": _("Chinese and English"),
    "chi_sim": _("Simplified Chinese"),
    "chi_tra": _("Traditional Chinese"),
}


def engine_choices() -> list[tuple[str, str]]:
    return [(name, ENGINE_LABELS.get(name, name)) for name in available_engines()]


def language_choices() -> list[tuple[str, StrOrPromise]]:
    choices: list[tuple[str, StrOrPromise]] = [("", _("Engine default"))]
    for engine, languages in available_engines().items():
        for code in languages:
            choices.append((code, f"{LANGUAGE_LABELS.get(code, code)} ({engine}: {code})"))
    return choices


class RerunForm(forms.Form):
    """Read a finished task again: another engine or language, or OCR on every page."""

    engine = forms.ChoiceField(label=_("OCR engine"), choices=engine_choices, required=False)
    language = forms.ChoiceField(label=_("Language"), choices=language_choices, required=False)
    force_ocr = forms.BooleanField(label=_("OCR every page"), required=False)


class BulkRerunForm(forms.Form):
    """Read several finished tasks again: each with its own engine, or all with one."""

    engine = forms.ChoiceField(
        label=_("OCR engine"),
        choices=lambda: [("", _("Keep each task's own")), *engine_choices()],
        required=False,
    )
    language = forms.ChoiceField(
        label=_("Language"), choices=language_choices, required=False, widget=LanguageSelect
    )
    force_ocr = forms.BooleanField(label=_("OCR every page"), required=False)


class UploadForm(forms.Form):
    file = MultipleFileField(
        label=_("Documents"),
        required=False,
        help_text=_("PNG, JPEG, TIFF, WebP, BMP or PDF."),
    )
    engine = forms.ChoiceField(label=_("OCR engine"), choices=engine_choices, required=False)
    language = forms.ChoiceField(
        label=_("Language"), choices=language_choices, required=False, widget=LanguageSelect
    )
    force_ocr = forms.BooleanField(
        label=_("OCR every page"),
        required=False,
        widget=forms.CheckboxInput(attrs={"aria-describedby": "force-ocr-help"}),
        help_text=_(
            "Read every page by OCR, even PDF pages that carry their own text. A PDF's text "
            "is used only when it agrees with the page; tick this when it still comes out wrong."
        ),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["engine"].initial = settings.OCR_DEFAULT_ENGINE
        # What the page checks before sending (static/js/tasks.js), worded as the server
        # words its refusals; the server checks again, and its answer is the rule.
        self.fields["file"].widget.attrs.update(
            {
                "accept": ACCEPT,
                "data-max-bytes": settings.OCR_MAX_FILE_BYTES,
                "data-max-files": settings.OCR_MAX_FILES_PER_REQUEST,
                "data-limit": human_size(settings.OCR_MAX_FILE_BYTES),
                "data-too-large": _("{name}: file is {size}; the limit is {limit}."),
                "data-empty": _("{name}: file is empty."),
                "data-wrong-type": _("{name}: not a PNG, JPEG, TIFF, WebP, BMP or PDF file."),
                "data-too-many": _("{count} files chosen; at most {limit} files per upload."),
                "data-not-sent": _("Nothing was sent. Choose the files again, without these."),
            }
        )
        self.fields["file"].help_text = _(
            "PNG, JPEG, TIFF, WebP, BMP or PDF; up to %(files)d files of %(size)s, "
            "%(pages)d pages each."
        ) % {
            "files": settings.OCR_MAX_FILES_PER_REQUEST,
            "size": human_size(settings.OCR_MAX_FILE_BYTES),
            "pages": settings.OCR_MAX_PAGES,
        }


class TaskListForm(forms.Form):
    """Search, filter and sort the task list; a field with a bad value is ignored."""

    q = forms.CharField(label=_("Search the text"), required=False)
    status = forms.ChoiceField(
        choices=[("", _("All")), *Status.choices], required=False, label=_("Status")
    )
    sort = forms.ChoiceField(
        choices=[(key, key) for name in SORT_FIELDS for key in (name, f"-{name}")],
        required=False,
    )

    def clean_q(self) -> str:
        # Cut, not refused: a pasted paragraph still searches, on its first words.
        return self.cleaned_data["q"][:SEARCH_MAX_CHARS]

    def value(self, name: str) -> str:
        """Return the cleaned value of a field, or "" when it was missing or invalid."""
        if not hasattr(self, "cleaned_data"):
            self.is_valid()
        return self.cleaned_data.get(name) or ""

    @property
    def is_narrowed(self) -> bool:
        """Whether a search or filter hides some of the user's tasks."""
        return bool(self.value("q").strip() or self.value("status"))
