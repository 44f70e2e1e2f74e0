"""Decide what kind of document an upload is from its first bytes."""

from dataclasses import dataclass

# Enough bytes for every signature below (WebP needs 12, the BMP header size field ends at 18).
HEAD_SIZE = 32

# DIB header sizes Pillow's BMP reader understands; "BM" alone is too weak a signature.
_BMP_HEADER_SIZES = frozenset({12, 40, 52, 56, 64, 108, 124})


@dataclass(frozen=True)
class DetectedType:
    """An accepted document type, named the way HTTP and file systems name it."""

    content_type: str
    extension: str
    is_pdf: bool = False

    @property
    def pillow_format(self) -> str | None:
        """Return the Pillow format name that must decode this type, or None for PDF."""
        return _PILLOW_FORMATS.get(self.extension)


PNG = DetectedType(content_type="image/png", extension="png")
JPEG = DetectedType(content_type="image/jpeg", extension="jpg")
TIFF = DetectedType(content_type="image/tiff", extension="tiff")
WEBP = DetectedType(content_type="image/webp", extension="webp")
BMP = DetectedType(content_type="image/bmp", extension="bmp")
PDF = DetectedType(content_type="application/pdf", extension="pdf", is_pdf=True)

ACCEPTED_TYPES = (PNG, JPEG, TIFF, WEBP, BMP, PDF)

_PILLOW_FORMATS = {"png": "PNG", "jpg": "JPEG", "tiff": "TIFF", "webp": "WEBP", "bmp": "BMP"}


def detect_kind(head: bytes) -> DetectedType | None:
    """Return the accepted type whose signature starts `head`, or None.

    Only the bytes count: a client-supplied name or content type is never trusted.
    """
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    # Classic TIFF and BigTIFF, in both byte orders.
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return TIFF
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head[:2] == b"BM" and int.from_bytes(head[14:18], "little") in _BMP_HEADER_SIZES:
        return BMP
    # The PDF spec lets readers tolerate junk before the header; we do not, so a file that
    # claims to be PDF says so in its first bytes and cannot smuggle another format ahead.
    if head.startswith(b"%PDF-"):
        return PDF
    return None
