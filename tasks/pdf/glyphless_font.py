"""A font with no visible glyphs, for invisible OCR text in any script.

A searchable PDF only needs its text layer to map character codes to Unicode: the
glyphs are never painted (text render mode 3). The 14 standard PDF fonts cannot
encode Chinese, and no CJK font is installed here or shipped in a wheel we use, so
the text layer uses the trick Tesseract and Chromium use: a tiny TrueType font whose
glyphs are empty, loaded as a CID font (Identity-H) with a ToUnicode CMap that
gives each character code its Unicode text. Every script survives copy and search.

Glyph metrics are chosen for placing lines: 1000 units per em, ascent 800, descent
-200 and every character 1 em wide, so a line set at font size h with its baseline
0.2 h above the box bottom fills the box exactly in height.
"""

import functools
import struct
from collections.abc import Iterable

UNITS_PER_EM = 1000
ASCENT = 800
DESCENT = -200
ADVANCE = 1000
FONT_NAME = "GlyphLessFont"

# CID 0 is .notdef by convention; real characters are numbered from 1.
MAX_CID = 0xFFFF
# Every character is drawn with this glyph, empty like .notdef but not .notdef: PDF/A-2
# (ISO 19005-2, 6.2.11.8) forbids showing .notdef even in invisible text.
EMPTY_GLYPH = 1


def _checksum(data: bytes) -> int:
    padded = data + b"\0" * (-len(data) % 4)
    return sum(struct.unpack(f">{len(padded) // 4}I", padded)) & 0xFFFFFFFF


def _name_table(names: dict[int, str]) -> bytes:
    records = []
    strings = b""
    for name_id, text in sorted(names.items()):
        encoded = text.encode("utf-16-be")
        # Windows platform, Unicode BMP encoding, US English.
        records.append(struct.pack(">HHHHHH", 3, 1, 0x409, name_id, len(encoded), len(strings)))
        strings += encoded
    header = struct.pack(">HHH", 0, len(records), 6 + 12 * len(records))
    return header + b"".join(records) + strings


def _tables() -> dict[bytes, bytes]:
    head = struct.pack(
        ">IIIIHHqqhhhhHHhhh",
        0x00010000,  # version
        0x00010000,  # fontRevision
        0,  # checkSumAdjustment, filled in once the whole font is known
        0x5F0F3CF5,  # magicNumber
        0x000B,  # flags: baseline at y=0, left sidebearing at x=0, integer scaling
        UNITS_PER_EM,
        0,  # created
        0,  # modified
        0,  # xMin
        DESCENT,  # yMin
        ADVANCE,  # xMax
        ASCENT,  # yMax
        0,  # macStyle
        3,  # lowestRecPPEM
        2,  # fontDirectionHint
        0,  # indexToLocFormat: short offsets
        0,  # glyphDataFormat
    )
    hhea = struct.pack(
        ">IhhhHhhhhhhhhhhhH",
        0x00010000,
        ASCENT,
        DESCENT,
        0,  # lineGap
        ADVANCE,  # advanceWidthMax
        0,  # minLeftSideBearing
        0,  # minRightSideBearing
        0,  # xMaxExtent
        1,  # caretSlopeRise
        0,  # caretSlopeRun
        0,  # caretOffset
        0,
        0,
        0,
        0,  # reserved
        0,  # metricDataFormat
        2,  # numberOfHMetrics
    )
    # Two glyphs (.notdef and EMPTY_GLYPH), no outline points; zones and stack as small as allowed.
    maxp = struct.pack(">IHHHHHHHHHHHHHH", 0x00010000, 2, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0)
    hmtx = struct.pack(">HhHh", ADVANCE, 0, ADVANCE, 0)
    # Equal offsets: neither glyph has an outline at all.
    loca = struct.pack(">HHH", 0, 0, 0)
    glyf = b""
    # A format 4 cmap with only the mandatory final segment: no code maps to a glyph, which
    # is right, since PDF text in this font is addressed by CID, never through the cmap.
    subtable = struct.pack(">HHHHHHHHHHHH", 4, 24, 0, 2, 2, 0, 0, 0xFFFF, 0, 0xFFFF, 1, 0)
    cmap = struct.pack(">HHHHI", 0, 1, 3, 1, 12) + subtable
    post = struct.pack(">IIhhIIIII", 0x00030000, 0, -100, 50, 1, 0, 0, 0, 0)
    name = _name_table(
        {1: FONT_NAME, 2: "Regular", 3: f"{FONT_NAME}-1", 4: FONT_NAME, 6: FONT_NAME}
    )
    return {
        b"cmap": cmap,
        b"glyf": glyf,
        b"head": head,
        b"hhea": hhea,
        b"hmtx": hmtx,
        b"loca": loca,
        b"maxp": maxp,
        b"name": name,
        b"post": post,
    }


@functools.cache
def glyphless_font() -> bytes:
    """Return the TrueType font file: empty glyphs 1 em wide, ascent 0.8 em."""
    tables = _tables()
    count = len(tables)
    entry_selector = count.bit_length() - 1
    search_range = 16 * (1 << entry_selector)
    directory = struct.pack(
        ">IHHHH", 0x00010000, count, search_range, entry_selector, 16 * count - search_range
    )
    offset = len(directory) + 16 * count
    entries = b""
    body = b""
    for tag, data in sorted(tables.items()):
        entries += struct.pack(">4sIII", tag, _checksum(data), offset + len(body), len(data))
        body += data + b"\0" * (-len(data) % 4)
    font = bytearray(directory + entries + body)
    # The head table's checkSumAdjustment makes the whole file sum to a fixed value.
    head_offset = struct.unpack_from(">I", entries, 16 * sorted(tables).index(b"head") + 8)[0]
    adjustment = (0xB1B0AFBA - _checksum(bytes(font))) & 0xFFFFFFFF
    struct.pack_into(">I", font, head_offset + 8, adjustment)
    return bytes(font)


def _utf16_hex(text: str) -> str:
    return text.encode("utf-16-be").hex().upper()


def to_unicode_cmap(characters: Iterable[tuple[int, str]]) -> str:
    """Return a ToUnicode CMap program mapping each (cid, character) pair."""
    pairs = sorted(characters)
    blocks = []
    # A bfchar block may hold at most 100 entries.
    for start in range(0, len(pairs), 100):
        chunk = pairs[start : start + 100]
        lines = "\n".join(f"<{cid:04X}> <{_utf16_hex(char)}>" for cid, char in chunk)
        blocks.append(f"{len(chunk)} beginbfchar\n{lines}\nendbfchar")
    return "\n".join(
        [
            "/CIDInit /ProcSet findresource begin",
            "12 dict begin",
            "begincmap",
            "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def",
            "/CMapName /Adobe-Identity-UCS def",
            "/CMapType 2 def",
            "1 begincodespacerange",
            "<0000> <FFFF>",
            "endcodespacerange",
            *blocks,
            "endcmap",
            "CMapName currentdict /CMapResource defineresource pop",
            "end",
            "end",
            "",
        ]
    )
