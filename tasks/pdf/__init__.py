"""The searchable PDF: laid out by PDFium (``searchable``), its boxes placed on the page as
uploaded (``placement``), its invisible font (``glyphless_font``), its images shrunk
(``images``) and, as an option, made PDF/A-2b (``pdfa``) by pikepdf.
"""
