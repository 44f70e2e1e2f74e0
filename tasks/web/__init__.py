"""The server-rendered pages of OCR tasks: views, the upload form, downloads, thumbnails.

Thin: every write goes through ``tasks.services`` (or ``tasks.bulk``), every read
through ``tasks.selectors``.
"""
