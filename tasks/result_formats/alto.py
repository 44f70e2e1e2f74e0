"""Write a task's pages as ALTO 4.4 XML, the layout format of library and archive systems.

Page > PrintSpace > TextBlock > TextLine > String (with SP between words), in pixels of the
page image as read (MeasurementUnit pixel), each String with its word confidence (WC, 0..1).
ALTO has no paragraph level: a block's paragraphs are its lines in order.
"""

import xml.etree.ElementTree as ET
from collections.abc import Iterable

from django.utils import timezone

from ..models import OcrPage, OcrTask, PageSource
from .document import line_words, page_blocks, xml_text
from .software import ocr_software

ALTO_NS = "http://www.loc.gov/standards/alto/ns-v4#"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
SCHEMA_LOCATION = f"{ALTO_NS} http://www.loc.gov/standards/alto/v4/alto-4-4.xsd"


def _position(box: list[int]) -> dict[str, str]:
    x0, y0, x1, y1 = box
    return {"HPOS": str(x0), "VPOS": str(y0), "WIDTH": str(x1 - x0), "HEIGHT": str(y1 - y0)}


def task_alto(*, task: OcrTask, pages: Iterable[OcrPage]) -> bytes:
    """Return the task's pages as one ALTO 4.4 document (UTF-8 XML)."""
    name, release = ocr_software(task.engine)
    alto = ET.Element(
        "alto",
        {
            "xmlns": ALTO_NS,
            "xmlns:xsi": XSI_NS,
            "xsi:schemaLocation": SCHEMA_LOCATION,
            "SCHEMAVERSION": "4.4",
        },
    )
    description = ET.SubElement(alto, "Description")
    ET.SubElement(description, "MeasurementUnit").text = "pixel"
    source = ET.SubElement(description, "sourceImageInformation")
    ET.SubElement(source, "fileName").text = xml_text(task.original_name)
    processing = ET.SubElement(description, "Processing", {"ID": "ocr"})
    ET.SubElement(processing, "processingCategory").text = "contentGeneration"
    finished = task.finished_at or timezone.now()
    ET.SubElement(processing, "processingDateTime").text = finished.isoformat()
    ET.SubElement(processing, "processingStepSettings").text = f"language: {task.language}"
    software = ET.SubElement(processing, "processingSoftware")
    ET.SubElement(software, "softwareName").text = name
    if release:
        ET.SubElement(software, "softwareVersion").text = release
    pages = list(pages)
    if any(page.source == PageSource.TEXT_LAYER for page in pages):
        # The PDF's own text, kept because it agreed with the page: no engine read it.
        kept = ET.SubElement(description, "Processing", {"ID": "text_layer"})
        ET.SubElement(kept, "processingCategory").text = "other"
        ET.SubElement(kept, "processingStepDescription").text = "Text layer of the PDF page"
    layout = ET.SubElement(alto, "Layout")
    for page in pages:
        n = page.number
        page_element = ET.SubElement(
            layout,
            "Page",
            {
                "ID": f"page_{n}",
                "PHYSICAL_IMG_NR": str(n),
                "WIDTH": str(page.width),
                "HEIGHT": str(page.height),
                "PROCESSINGREFS": "text_layer" if page.source == PageSource.TEXT_LAYER else "ocr",
            },
        )
        if page.confidence is not None:
            page_element.set("PC", f"{min(max(page.confidence, 0), 100) / 100:.4f}")
        space = ET.SubElement(
            page_element, "PrintSpace", _position([0, 0, page.width, page.height])
        )
        counts = {"block": 0, "line": 0, "string": 0}

        def ident(kind: str, n: int = n, counts: dict[str, int] = counts) -> str:
            counts[kind] += 1
            return f"{kind}_{n}_{counts[kind]}"

        for block in page_blocks(page.lines):
            text_block = ET.SubElement(
                space, "TextBlock", {"ID": ident("block"), **_position(block["box"])}
            )
            for paragraph in block["paragraphs"]:
                for line in paragraph["lines"]:
                    text_line = ET.SubElement(
                        text_block, "TextLine", {"ID": ident("line"), **_position(line["box"])}
                    )
                    previous = None
                    for word in line_words(line):
                        if previous is not None:
                            gap = [previous[2], line["box"][1], word["box"][0], line["box"][3]]
                            ET.SubElement(
                                text_line,
                                "SP",
                                {
                                    "HPOS": str(gap[0]),
                                    "VPOS": str(gap[1]),
                                    "WIDTH": str(max(0, gap[2] - gap[0])),
                                },
                            )
                        attributes = {
                            "ID": ident("string"),
                            **_position(word["box"]),
                            "CONTENT": xml_text(word["text"]),
                        }
                        if word["confidence"] is not None:
                            attributes["WC"] = f"{word['confidence'] / 100:.4f}"
                        ET.SubElement(text_line, "String", attributes)
                        previous = word["box"]
    ET.indent(alto)
    document = ET.tostring(alto, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{document}\n'.encode()
