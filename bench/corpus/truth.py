"""Ground truth of the corpus: the text of a PAGE XML transcription, as an OCR can match it."""

import re
import unicodedata
import xml.etree.ElementTree as ET

# Historical letter forms the transcriptions keep and no engine here writes: long s, the
# superscript e over a, o, u (an umlaut in modern print), r rotunda, the double hyphen.
# Written as escapes: the long s and r rotunda look like f and r on screen.
_SUPERSCRIPT_E = "\u0364"
_MODERN = {
    "\u017f": "s",
    "\ua75b": "r",
    "\u2e17": "-",
    **{base + _SUPERSCRIPT_E: modern for base, modern in zip("aouAOU", "äöüÄÖÜ", strict=True)},
}
_MODERN_RE = re.compile("|".join(sorted(map(re.escape, _MODERN), key=len, reverse=True)))


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _own_text(element: ET.Element) -> str:
    """Return the Unicode of `element`'s own TextEquiv (not its words' or glyphs')."""
    for child in element:
        if _local(child.tag) == "TextEquiv":
            for unicode in child:
                if _local(unicode.tag) == "Unicode":
                    return unicode.text or ""
    return ""


def page_xml_text(data: bytes) -> str:
    """Return the lines of a PAGE XML file, one a line, regions in its reading order."""
    root = ET.fromstring(data)  # noqa: S314 - a file of the manifest, its sha256 checked
    regions = [el for el in root.iter() if _local(el.tag) == "TextRegion"]
    order = {
        el.get("regionRef"): int(el.get("index", "0"))
        for el in root.iter()
        if _local(el.tag) == "RegionRefIndexed"
    }
    # Regions the reading order leaves out go last, in document order (sorted is stable).
    regions.sort(key=lambda region: order.get(region.get("id"), len(order)))
    lines = []
    for region in regions:
        for line in region:
            if _local(line.tag) == "TextLine":
                lines.append(_own_text(line))
    return "\n".join(line for line in lines if line.strip())


def modernised(text: str) -> str:
    """Return `text` with the historical letter forms an engine reads as modern ones."""
    return _MODERN_RE.sub(lambda match: _MODERN[match.group(0)], unicodedata.normalize("NFC", text))
