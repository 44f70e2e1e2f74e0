"""Read documents: detect the type, validate, split into pages, and run an OCR engine.

detect.detect_kind -> inspect.inspect_document -> pages.iter_pages -> engines.get_engine.
Nothing here imports the rest of the tasks app (an import contract in ``make lint``): no
model, no storage; limits and choices arrive as arguments, or from Django's settings in
``resolution.PdfResolution.from_settings`` and the engines' word-confidence floor; refusals
carry messages translated lazily (Django's gettext_lazy).
"""
