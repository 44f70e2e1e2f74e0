"""Read the text a born-digital PDF page already carries, so it need not be OCRed."""

import contextlib
import ctypes

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from tasks.ocr.engines import Line, PageResult

# Fewer readable characters than this and the page is treated as a scan. Scanners and phone
# apps stamp short invisible captions ("Scanned by ...") on image pages; OCRing a sparse
# born-digital page costs a little time, trusting a stamp would lose the whole page.
MIN_TEXT_LAYER_CHARS = 32

_REPLACEMENT_CHARACTER = "\ufffd"


def _is_readable(char: str) -> bool:
    # Fonts without a usable ToUnicode map come out as U+FFFD or private-use code points,
    # which str.isprintable() rejects: such a layer is worse than OCR.
    return char.isprintable() and not char.isspace() and char != _REPLACEMENT_CHARACTER


def _page_chars(textpage: pdfium.PdfTextPage) -> list[tuple[int, str]]:
    """Return (char index, character) pairs, joining UTF-16 surrogate pairs."""
    chars: list[tuple[int, str]] = []
    count = textpage.count_chars()
    index = 0
    while index < count:
        code = pdfium_c.FPDFText_GetUnicode(textpage, index)
        if 0xD800 <= code <= 0xDBFF and index + 1 < count:
            low = pdfium_c.FPDFText_GetUnicode(textpage, index + 1)
            if 0xDC00 <= low <= 0xDFFF:
                chars.append((index, chr(0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00))))
                index += 2
                continue
        if 0xD800 <= code <= 0xDFFF or code > 0x10FFFF:
            chars.append((index, _REPLACEMENT_CHARACTER))
        else:
            chars.append((index, chr(code)))
        index += 1
    return chars


def _device_box(
    page: pdfium.PdfPage,
    box: tuple[float, float, float, float],
    *,
    size: tuple[int, int],
) -> tuple[int, int, int, int]:
    """Map a (left, bottom, right, top) box in PDF points to pixels on the rendered page."""
    left, bottom, right, top = box
    xs: list[int] = []
    ys: list[int] = []
    # PDFium's own mapping honours the page's /Rotate and crop box the way rendering does.
    for x, y in ((left, bottom), (right, top)):
        device_x, device_y = ctypes.c_int(), ctypes.c_int()
        pdfium_c.FPDF_PageToDevice(page, 0, 0, size[0], size[1], 0, x, y, device_x, device_y)
        xs.append(device_x.value)
        ys.append(device_y.value)
    return (
        max(0, min(xs)),
        max(0, min(ys)),
        min(size[0], max(xs)),
        min(size[1], max(ys)),
    )


def extract_text_layer(
    page: pdfium.PdfPage,
    *,
    size: tuple[int, int],
    min_chars: int = MIN_TEXT_LAYER_CHARS,
) -> PageResult | None:
    """Return the page's text layer as lines boxed in pixels of a `size` render, or None.

    None means the page has too little readable text to trust and should be OCRed. Call
    while holding the PDFium lock.
    """
    textpage = page.get_textpage()
    try:
        chars = _page_chars(textpage)
        readable = sum(1 for _, char in chars if _is_readable(char))
        visible = sum(1 for _, char in chars if not char.isspace())
        if readable < min_chars or readable * 2 < visible:
            return None

        lines: list[Line] = []
        line_text: list[str] = []
        bounds: list[tuple[float, float, float, float]] = []

        def finish_line() -> None:
            text = "".join(line_text).strip()
            if text and bounds:
                box = (
                    min(b[0] for b in bounds),
                    min(b[1] for b in bounds),
                    max(b[2] for b in bounds),
                    max(b[3] for b in bounds),
                )
                lines.append(
                    Line(text=text, confidence=None, box=_device_box(page, box, size=size))
                )
            elif text:
                # No glyph boxes for this line (all generated characters): say "somewhere on
                # the page" rather than invent a position.
                lines.append(Line(text=text, confidence=None, box=(0, 0, *size)))
            line_text.clear()
            bounds.clear()

        # PDFium inserts "\r\n" between the lines it recognises; those split our lines too.
        for index, char in chars:
            if char in "\r\n":
                finish_line()
                continue
            if not char.isprintable() and not char.isspace():
                continue  # soft-hyphen markers and other control codes PDFium passes through
            line_text.append(char)
            if not char.isspace() and not pdfium_c.FPDFText_IsGenerated(textpage, index):
                with contextlib.suppress(pdfium.PdfiumError):
                    bounds.append(textpage.get_charbox(index))
        finish_line()
    finally:
        textpage.close()

    if not lines:
        return None
    return PageResult(
        text="\n".join(line.text for line in lines),
        confidence=None,
        lines=lines,
        source="text_layer",
    )
