"""The engine and language a task is read with: the defaults, and what is on offer."""

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from ..ocr.engines import available_engines

DEFAULT_LANGUAGES = {"tesseract": "eng", "rapidocr": "ch"}


class EngineChoiceError(ValueError):
    """An engine or language this service does not offer; ``field`` says which was wrong."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


def resolve_engine(*, engine: str | None, language: str | None) -> tuple[str, str]:
    """Return a valid (engine, language) pair, defaults filled in; raise EngineChoiceError."""
    engines = available_engines()
    engine = (engine or settings.OCR_DEFAULT_ENGINE).strip()
    if engine not in engines:
        raise EngineChoiceError(
            _("Unknown engine “%(engine)s”; choose one of: %(choices)s.")
            % {"engine": engine, "choices": ", ".join(engines)},
            field="engine",
        )
    language = (language or DEFAULT_LANGUAGES.get(engine) or engines[engine][0]).strip()
    if language not in engines[engine]:
        raise EngineChoiceError(
            _(
                "Engine “%(engine)s” does not read language “%(language)s”; "
                "choose one of: %(choices)s."
            )
            % {"engine": engine, "language": language, "choices": ", ".join(engines[engine])},
            field="language",
        )
    return engine, language
