"""The server-rendered pages of OCR tasks.

The views by what they show: ``list_views`` (the list, its polling, the upload page),
``task_views`` (one task) and ``bulk_views`` (the ticked tasks); beside them the forms,
downloads and thumbnails.

Thin: every write goes through ``tasks.services`` (or ``tasks.bulk``), every read
through ``tasks.selectors``.
"""
