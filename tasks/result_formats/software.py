"""Name the software that read a task, as the hOCR and ALTO headers record it."""

import functools
from importlib.metadata import PackageNotFoundError, version

# What each engine is called in the headers, and the distribution that carries its version.
_ENGINES = {
    "tesseract": ("Tesseract", None),
    "rapidocr": ("RapidOCR (PP-OCRv6)", "rapidocr"),
}


@functools.cache
def _tesseract_version() -> str:
    import tesserocr

    # "tesseract 5.5.1\n leptonica-1.84.1 ..."; the first line names the engine itself.
    first = tesserocr.tesseract_version().splitlines()[0]
    return first.split()[-1] if first.strip() else ""


def ocr_software(engine: str) -> tuple[str, str]:
    """Return the engine's display name and installed version ("" when it cannot be told)."""
    name, distribution = _ENGINES.get(engine, (engine, None))
    try:
        if engine == "tesseract":
            return name, _tesseract_version()
        return name, version(distribution) if distribution else ""
    except (ImportError, PackageNotFoundError, IndexError):
        return name, ""
