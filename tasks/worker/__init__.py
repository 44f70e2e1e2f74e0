"""What the OCR worker runs for one task: processing page by page, the heartbeat that
keeps the task in hand, and the page images it stores as it reads (the searchable PDF
is built and stored by ``tasks.pdf.searchable``).

``tasks.jobs`` (django.tasks, its path stored in queued rows, so it stays where it is)
calls ``processing.process_task``.
"""
