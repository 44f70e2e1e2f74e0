"""The searchable PDF: laid out by PDFium and stored (``searchable``), each page's picture
(``pictures``) under its invisible text layer (``text_layer``), its boxes placed on the page
as uploaded (``placement``), its invisible font (``glyphless_font``), its images shrunk
(``images``, each scanned page's choice made ahead by a page reader: ``prepared_images``)
and, as an option, made PDF/A-2b (``pdfa``) by pikepdf.

Nothing here imports ``tasks.worker`` (an import contract in ``make lint``): the worker
calls ``searchable.store_searchable_pdf``, and what both read of a stored document is in
``tasks.documents``.
"""
