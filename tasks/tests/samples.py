"""Build small documents with known content for the OCR tests: images, PDFs and broken files."""

import hashlib
import io
import struct
import zlib
from collections.abc import Callable, Sequence

from PIL import Image, ImageDraw, ImageFont

# Plain dictionary words and a number: both engines read these reliably in a clean font.
KNOWN_WORDS = ["invoice", "harbour", "quantum", "2024"]
SECOND_PAGE_WORDS = ["meadow", "lantern", "copper", "1987"]
TEXT_LAYER_LINES = [
    "Quarterly report for the harbour office",
    "Lantern maintenance budget approved",
    "Copper cabling replaced in building seven",
]

# The language each engine is asked to read the English samples in.
ENGLISH = {"tesseract": "eng", "rapidocr": "en"}

_MARGIN = 40


def words_in(text: str) -> set[str]:
    """Return the lower-case words of `text`, punctuation stripped."""
    return {word.strip(".,;:!?'\"").lower() for word in text.split()}


def make_text_image(
    words: list[str], *, size: tuple[int, int] = (1200, 300), font_size: int = 48
) -> Image.Image:
    """Return a white RGB image with `words` in black, wrapped onto as many lines as needed."""
    # Pillow's bundled scalable font: no dependency on fonts installed on the machine.
    font = ImageFont.load_default(size=font_size)
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    lines: list[str] = []
    for word in words:
        candidate = f"{lines[-1]} {word}" if lines else word
        if lines and draw.textlength(candidate, font=font) <= size[0] - 2 * _MARGIN:
            lines[-1] = candidate
        else:
            lines.append(word)
    y = _MARGIN
    for line in lines:
        draw.text((_MARGIN, y), line, font=font, fill="black")
        y += round(font_size * 1.6)
    return image


def encode_image(image: Image.Image, *, format: str, **options: object) -> bytes:
    """Return `image` saved in Pillow `format` (PNG, JPEG, TIFF, WEBP, BMP)."""
    buffer = io.BytesIO()
    image.save(buffer, format=format, **options)
    return buffer.getvalue()


def multipage_tiff_bytes(images: Sequence[Image.Image]) -> bytes:
    """Return a TIFF holding each image as one page."""
    # Copies: Pillow leaves encoder state on appended images that breaks their next save.
    first, *rest = (image.copy() for image in images)
    buffer = io.BytesIO()
    first.save(buffer, format="TIFF", save_all=True, append_images=rest)
    return buffer.getvalue()


def image_pdf_bytes(images: Sequence[Image.Image], *, dpi: int = 150) -> bytes:
    """Return a scan-like PDF: one page per image and no text layer."""
    first, *rest = (image.copy() for image in images)
    buffer = io.BytesIO()
    first.save(buffer, format="PDF", save_all=True, append_images=rest, resolution=dpi)
    return buffer.getvalue()


def pixel_bomb_png_bytes(*, width: int = 100_000, height: int = 100_000) -> bytes:
    """Return a tiny PNG whose header claims `width` by `height` pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    # 1-bit greyscale; the image data is one compressed empty row, never reached by a decoder
    # that checks the size first.
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00"))
        + chunk(b"IEND", b"")
    )


def truncated(data: bytes, *, keep: float = 0.5) -> bytes:
    """Return the first `keep` fraction of `data`, as an interrupted upload would leave it."""
    return data[: int(len(data) * keep)]


def _pdf_string(text: str) -> bytes:
    escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    return b"(" + escaped.encode("cp1252") + b")"


def _pdf_stream(data: bytes, *, extra: bytes = b"") -> bytes:
    return b"<< /Length %d %s>>\nstream\n" % (len(data), extra) + data + b"\nendstream"


def _pdf_file(objects: list[bytes], *, trailer: bytes = b"") -> bytes:
    """Return a PDF of `objects` (object 1 is the catalog) with a correct xref table."""
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref_at = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R %s>>\n" % (len(objects) + 1, trailer)
    out += b"startxref\n%d\n%%%%EOF\n" % xref_at
    return bytes(out)


def _text_content(lines: Sequence[str], *, top: int = 720, font_size: int = 20) -> bytes:
    parts = [b"BT /F1 %d Tf 72 %d Td %d TL" % (font_size, top, round(font_size * 1.5))]
    for line in lines:
        parts.append(_pdf_string(line) + b" Tj T*")
    parts.append(b"ET")
    return b"\n".join(parts)


def _pages_pdf(
    contents: Sequence[bytes | None], *, media_box: bytes = b"0 0 612 792", rotate: int = 0
) -> bytes:
    """Return a PDF with one page per content stream (None: a blank page)."""
    objects: list[bytes] = [b"", b"", b""]
    objects[2] = (
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
    )
    kids = []
    for content in contents:
        page = b"<< /Type /Page /Parent 2 0 R /MediaBox [%s] /Rotate %d" % (media_box, rotate)
        page += b" /Resources << /Font << /F1 3 0 R >> >>"
        if content is not None:
            objects.append(_pdf_stream(content))
            page += b" /Contents %d 0 R" % len(objects)
        objects.append(page + b" >>")
        kids.append(b"%d 0 R" % len(objects))
    objects[0] = b"<< /Type /Catalog /Pages 2 0 R >>"
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(kids), len(kids))
    return _pdf_file(objects)


def text_pdf_bytes(pages: Sequence[Sequence[str]], *, rotate: int = 0) -> bytes:
    """Return a born-digital Letter PDF: each page's lines set in Helvetica, as real text."""
    return _pages_pdf([_text_content(lines) for lines in pages], rotate=rotate)


def blank_pdf_bytes(*, page_count: int, media_box: bytes = b"0 0 612 792") -> bytes:
    """Return a PDF of `page_count` empty pages of the given media box (in points)."""
    return _pages_pdf([None] * page_count, media_box=media_box)


def stamped_scan_pdf_bytes(image: Image.Image, *, stamp: str = "Scanned by Scanner") -> bytes:
    """Return a one-page PDF of a scanned `image` under a short real-text stamp, as scan apps do."""
    grey = image.convert("L")
    width_pt, height_pt = 612, round(612 * grey.height / grey.width)
    picture = _pdf_stream(
        zlib.compress(grey.tobytes()),
        extra=b"/Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray "
        b"/BitsPerComponent 8 /Filter /FlateDecode " % grey.size,
    )
    content = (
        b"q %d 0 0 %d 0 0 cm /Im1 Do Q\n" % (width_pt, height_pt)
        + b"BT /F1 8 Tf 10 4 Td "
        + _pdf_string(stamp)
        + b" Tj ET"
    )
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [6 0 R] /Count 1 >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        picture,
        _pdf_stream(content),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] " % (width_pt, height_pt)
        + b"/Resources << /Font << /F1 3 0 R >> /XObject << /Im1 4 0 R >> >> /Contents 5 0 R >>",
    ]
    return _pdf_file(objects)


_OWNER_PASSWORD = "owner"
_PASSWORD_PAD = bytes.fromhex("28BF4E5E4E758A4164004E56FFFA01082E2E00B6D0683E802F0CA9FE6453697A")


def _rc4(key: bytes, data: bytes) -> bytes:
    state = list(range(256))
    j = 0
    for i in range(256):
        j = (j + state[i] + key[i % len(key)]) % 256
        state[i], state[j] = state[j], state[i]
    out = bytearray()
    i = j = 0
    for byte in data:
        i = (i + 1) % 256
        j = (j + state[i]) % 256
        state[i], state[j] = state[j], state[i]
        out.append(byte ^ state[(state[i] + state[j]) % 256])
    return bytes(out)


def _padded(password: str) -> bytes:
    return (password.encode("latin-1") + _PASSWORD_PAD)[:32]


def encrypted_pdf_bytes(*, user_password: str, owner_password: str = _OWNER_PASSWORD) -> bytes:
    """Return a one-page PDF under the standard security handler (RC4 40-bit, revision 2).

    With an empty `user_password` it opens without a password but is still encrypted.
    """
    permissions = -44  # print and copy forbidden, as restriction-only PDFs usually set
    file_id = hashlib.md5(b"ocr-test-document", usedforsecurity=False).digest()
    owner_key = hashlib.md5(_padded(owner_password), usedforsecurity=False).digest()[:5]
    owner_entry = _rc4(owner_key, _padded(user_password))
    file_key = hashlib.md5(
        _padded(user_password) + owner_entry + struct.pack("<i", permissions) + file_id,
        usedforsecurity=False,
    ).digest()[:5]
    user_entry = _rc4(file_key, _PASSWORD_PAD)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        # No strings or streams besides the security handler's own, so nothing else needs
        # encrypting for the file to be valid.
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>",
        b"<< /Filter /Standard /V 1 /R 2 /O <%s> /U <%s> /P %d >>"
        % (owner_entry.hex().encode(), user_entry.hex().encode(), permissions),
    ]
    hex_id = file_id.hex().encode()
    return _pdf_file(objects, trailer=b"/Encrypt 4 0 R /ID [<%s> <%s>] " % (hex_id, hex_id))


def _one_page_pdf(content: bytes, *, page_extra: bytes = b"", catalog_extra: bytes = b"") -> bytes:
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R %s>>" % catalog_extra,
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R %s>>" % page_extra,
        _pdf_stream(content, extra=b"/Filter /FlateDecode "),
    ]
    return _pdf_file(objects)


def content_stream_bomb_pdf_bytes(*, inflated: int = 100 * 1024 * 1024) -> bytes:
    """Return a one-page PDF (about 250 KB) whose Flate content stream inflates to
    `inflated` bytes of path operators: seconds and a gigabyte to parse, minutes to draw."""
    unit = b"10 10 m 200 200 l 300 50 l h S\n"
    block = unit * (1024 * 1024 // len(unit))
    squeeze = zlib.compressobj(9)
    data = bytearray()
    for _ in range(inflated // len(block)):
        data += squeeze.compress(block)
    data += squeeze.flush()
    return _one_page_pdf(bytes(data))


def inline_image_bomb_pdf_bytes(*, side: int = 16_000) -> bytes:
    """Return a small PDF whose page draws one `side`² grey inline image (BI ... EI)."""
    squeeze = zlib.compressobj(9)
    row = b"\x80" * side
    image = bytearray()
    for _ in range(side):
        image += squeeze.compress(row)
    image += squeeze.flush()
    content = (
        b"q 612 0 0 792 0 0 cm BI /W %d /H %d /BPC 8 /CS /G /F /Fl ID " % (side, side)
        + bytes(image)
        + b" EI Q"
    )
    return _one_page_pdf(zlib.compress(content))


def nested_pdf_bytes(*, depth: int = 100_000) -> bytes:
    """Return a PDF whose catalog holds an array nested `depth` levels deep."""
    nested = b"[" * depth + b"]" * depth
    return _one_page_pdf(zlib.compress(b"BT ET"), catalog_extra=b"/Deep %s " % nested)


def huge_strip_tiff_bytes(*, side: int = 7000) -> bytes:
    """Return a TIFF whose one page is one Deflate strip of `side`² pixels (49 MB raw)."""
    image = Image.new("L", (side, side), 255)
    buffer = io.BytesIO()
    image.save(buffer, format="TIFF", compression="tiff_adobe_deflate", rowsperstrip=side)
    return buffer.getvalue()


def _image_xobject(image: Image.Image, encoding: str = "flate-grey") -> bytes:
    """Return an image XObject as a scanner would store it: Flate grey, JPEG or 1-bit Flate."""
    header = b"/Type /XObject /Subtype /Image /Width %d /Height %d " % image.size
    if encoding == "flate-grey":
        grey = image.convert("L")
        data = zlib.compress(grey.tobytes(), 1)
        header += b"/ColorSpace /DeviceGray /BitsPerComponent 8 /Filter /FlateDecode "
    elif encoding == "bitonal":
        data = zlib.compress(
            image.convert("L")
            .point(lambda v: 255 if v >= 128 else 0)
            .convert("1", dither=Image.Dither.NONE)
            .tobytes(),
            6,
        )
        header += b"/ColorSpace /DeviceGray /BitsPerComponent 1 /Filter /FlateDecode "
    else:  # jpeg-grey, jpeg-colour
        picture = image.convert("L" if encoding == "jpeg-grey" else "RGB")
        buffer = io.BytesIO()
        picture.save(buffer, format="JPEG", quality=75)
        data = buffer.getvalue()
        space = b"/DeviceGray" if picture.mode == "L" else b"/DeviceRGB"
        header += b"/ColorSpace %s /BitsPerComponent 8 /Filter /DCTDecode " % space
    return _pdf_stream(data, extra=header)


def scan_pdf_bytes(
    pages: Sequence[tuple[Image.Image, float, float]], *, encoding: str = "flate-grey"
) -> bytes:
    """Return a PDF of scanned pages: each (image, width_in, height_in) fills its own page.

    The image's effective resolution is its pixel width over `width_in`, as a scanner's
    would be; pages of any physical size can be made this way. `encoding` is how each
    image is stored: "flate-grey" (8-bit), "bitonal" (1-bit Flate), "jpeg-grey" or
    "jpeg-colour".
    """
    objects: list[bytes] = [b"<< /Type /Catalog /Pages 2 0 R >>", b""]
    kids = []
    for image, width_in, height_in in pages:
        width_pt, height_pt = round(width_in * 72, 2), round(height_in * 72, 2)
        objects.append(_image_xobject(image, encoding))
        picture = len(objects)
        objects.append(_pdf_stream(b"q %g 0 0 %g 0 0 cm /Im1 Do Q" % (width_pt, height_pt)))
        content = len(objects)
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %g %g] " % (width_pt, height_pt)
            + b"/Resources << /XObject << /Im1 %d 0 R >> >> /Contents %d 0 R >>"
            % (picture, content)
        )
        kids.append(b"%d 0 R" % len(objects))
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(kids), len(kids))
    return _pdf_file(objects)


def _to_unicode_cmap(mapping: dict[int, int]) -> bytes:
    """Return a ToUnicode CMap sending each one-byte code to the given code point."""
    entries = [b"<%02X> <%04X>" % (code, target) for code, target in sorted(mapping.items())]
    blocks = []
    for start in range(0, len(entries), 100):  # at most 100 entries per block
        chunk = entries[start : start + 100]
        blocks.append(b"%d beginbfchar\n%s\nendbfchar" % (len(chunk), b"\n".join(chunk)))
    return (
        b"/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
        b"/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
        b"/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
        b"1 begincodespacerange\n<00> <FF>\nendcodespacerange\n"
        + b"\n".join(blocks)
        + b"\nendcmap\nCMapName currentdict /CMap defineresource pop\nend\nend"
    )


def miscoded_text_pdf_bytes(lines: Sequence[str], *, target: Callable[[int], int]) -> bytes:
    """Return a Letter PDF drawing `lines` in Helvetica whose ToUnicode map lies.

    Each character code c is drawn as its glyph but extracts as `target(c)`: a byte swap
    gives the UTF-16 mix-up seen in real files, a shift gives Latin nonsense.
    """
    mapping = {code: target(code) for code in range(0x20, 0x7F)}
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [6 0 R] /Count 1 >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding "
        b"/ToUnicode 4 0 R >>",
        _pdf_stream(_to_unicode_cmap(mapping)),
        _pdf_stream(_text_content(lines)),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 3 0 R >> >> /Contents 5 0 R >>",
    ]
    return _pdf_file(objects)
