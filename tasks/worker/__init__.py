"""What the OCR worker runs for one task: processing page by page, the heartbeat that
keeps the task in hand, and the outputs derived from it (page images, the searchable PDF).

``tasks.jobs`` (django.tasks, its path stored in queued rows, so it stays where it is)
calls ``processing.process_task``.
"""
