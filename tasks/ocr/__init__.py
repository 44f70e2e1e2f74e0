"""Read documents: detect the type, validate, split into pages, and run an OCR engine.

detect.detect_kind -> inspect.inspect_document -> pages.iter_pages -> engines.get_engine.
Nothing here touches Django; limits and choices arrive as arguments.
"""
