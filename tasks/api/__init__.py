"""The OCR task API under /api/v2/tasks: views, their URLs, serializers and filters.

Thin like the pages: writes through ``tasks.services``, reads through ``tasks.selectors``.
"""
