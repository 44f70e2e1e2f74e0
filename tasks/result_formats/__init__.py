"""A completed task's pages in the layout formats archives and document tools read.

`document` nests a page's stored lines as blocks, paragraphs, lines and words (the JSON
result serves that shape); `hocr` and `alto` write the same nesting as hOCR 1.2 and
ALTO 4.4. Only `tasks.web.downloads` and `tasks.selectors` import from here.
"""
