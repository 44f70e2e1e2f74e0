"""Write a task's pages as hOCR 1.2: XHTML whose classes and titles carry the layout.

ocr_page > ocr_carea > ocr_par > ocr_line > ocrx_word, each with its bbox in page pixels
and each word with x_wconf, as Tesseract's own hOCR renderer writes them.
"""

import xml.etree.ElementTree as ET
from collections.abc import Iterable

from ..models import OcrPage, OcrTask
from .document import line_words, page_blocks, xml_text
from .software import ocr_software

XHTML = "http://www.w3.org/1999/xhtml"
CAPABILITIES = "ocr_page ocr_carea ocr_par ocr_line ocrx_word ocrp_wconf"


def _bbox(box: list[int]) -> str:
    return "bbox {} {} {} {}".format(*box)


def _title_string(value: str) -> str:
    """Return `value` fit for a double-quoted title property: no quote, semicolon or newline."""
    return "".join(" " if ch in '";\\\r\n\t' else ch for ch in xml_text(value))


def task_hocr(*, task: OcrTask, pages: Iterable[OcrPage]) -> bytes:
    """Return the task's pages as one hOCR 1.2 document (UTF-8 XHTML)."""
    pages = list(pages)
    name, release = ocr_software(task.engine)
    html = ET.Element("html", {"xmlns": XHTML, "xml:lang": "en", "lang": "en"})
    head = ET.SubElement(html, "head")
    ET.SubElement(head, "title").text = xml_text(task.original_name) or "OCR result"
    ET.SubElement(
        head, "meta", {"http-equiv": "Content-Type", "content": "text/html; charset=utf-8"}
    )
    ET.SubElement(head, "meta", {"name": "ocr-system", "content": f"{name} {release}".strip()})
    ET.SubElement(head, "meta", {"name": "ocr-capabilities", "content": CAPABILITIES})
    ET.SubElement(head, "meta", {"name": "ocr-number-of-pages", "content": str(len(pages))})
    body = ET.SubElement(html, "body")
    for page in pages:
        n = page.number
        image = _title_string(f"{task.original_name} page {n}")
        page_div = ET.SubElement(
            body,
            "div",
            {
                "class": "ocr_page",
                "id": f"page_{n}",
                "title": f'image "{image}"; {_bbox([0, 0, page.width, page.height])}; '
                f"ppageno {n - 1}",
            },
        )
        counts = {"block": 0, "par": 0, "line": 0, "word": 0}

        def ident(kind: str, n: int = n, counts: dict[str, int] = counts) -> str:
            counts[kind] += 1
            return f"{kind}_{n}_{counts[kind]}"

        for block in page_blocks(page.lines):
            area = ET.SubElement(
                page_div,
                "div",
                {"class": "ocr_carea", "id": ident("block"), "title": _bbox(block["box"])},
            )
            for paragraph in block["paragraphs"]:
                par = ET.SubElement(
                    area,
                    "p",
                    {"class": "ocr_par", "id": ident("par"), "title": _bbox(paragraph["box"])},
                )
                for line in paragraph["lines"]:
                    span = ET.SubElement(
                        par,
                        "span",
                        {"class": "ocr_line", "id": ident("line"), "title": _bbox(line["box"])},
                    )
                    for word in line_words(line):
                        title = _bbox(word["box"])
                        if word["confidence"] is not None:
                            title += f"; x_wconf {round(word['confidence'])}"
                        ET.SubElement(
                            span,
                            "span",
                            {"class": "ocrx_word", "id": ident("word"), "title": title},
                        ).text = xml_text(word["text"])
        if not len(page_div):
            page_div.text = "\n"  # <div/> would open a div that never closes, read as HTML
    ET.indent(html)
    document = ET.tostring(html, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE html>\n{document}\n'.encode()
