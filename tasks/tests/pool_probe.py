"""Run in page-reader pool children by the tests: no Django models, which a child cannot import."""


def loaded_languages(_: int) -> tuple[str, ...]:
    """Return the Tesseract languages this process has loaded."""
    from tasks.ocr.engines import TesseractEngine, get_engine

    engine = get_engine(TesseractEngine.name)
    assert isinstance(engine, TesseractEngine)
    return tuple(engine._apis)
