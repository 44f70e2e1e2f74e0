"""OCR tasks: uploads checked and stored, background OCR in the worker, results and
downloads for their owner only.

``services`` holds the write paths (create from uploads, retry, delete, reclaim),
``selectors`` the reads (a user's own tasks; anything else is a 404), ``processing`` the
worker's side, ``ocr/`` the engines and page handling (no Django). The top app: it may
import ``accounts`` and ``audit``, and nothing imports it. See docs/architecture.md.
"""
