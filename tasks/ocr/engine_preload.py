"""Imported by the page readers' fork server only (tasks.ocr.page_reader): load Tesseract.

Each pool child is forked from that server, once per task and process, and built its own
Tesseract API for the task's language before its first page (about 0.2 CPU s, with the
first page waiting for it). Loaded here once per worker, the default language's model is
in every child from its start, shared copy-on-write. Other languages still load on use.
"""

import logging

from tasks.ocr.engines import TesseractEngine, get_engine

# The upload form's default (tasks.services.engine_choice, which imports Django models).
PRELOADED_LANGUAGE = "eng"

try:
    _engine = get_engine(TesseractEngine.name)
    if isinstance(_engine, TesseractEngine) and PRELOADED_LANGUAGE in _engine.languages:
        _engine.preload(PRELOADED_LANGUAGE)
except Exception:  # the server must start anyway: each child then loads it on first use
    logging.getLogger(__name__).exception("Preloading Tesseract in the fork server failed")
