"""The shared kernel: small pieces every app uses and none owns.

Atomic file writes, the one permission rule of staff surfaces, API views whose
data-only formats report errors as JSON, and strict filter forms. It imports Django,
DRF and django-filter, never an app or the rest of ``ocr_project``; every app may import
it (``make lint`` checks both).
"""
