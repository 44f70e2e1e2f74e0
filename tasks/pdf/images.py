"""Shrink the searchable PDF's page images without changing what a page shows.

PDFium lays out the searchable PDF (tasks.pdf.searchable) but writes images only as JPEG
or as a raw bitmap it compresses itself; pikepdf (qpdf) rewrites the image streams after
it (so the output stays as small as the input):

- JPEG (DCTDecode), CCITT, JBIG2 and JPEG 2000 streams are never decoded: copied as they
  are, so a scan's own JPEG stays byte for byte the same.
- Bitonal images (1-bit, or 8-bit grey holding only black and white) become CCITT G4 or
  1-bit Flate with PNG predictors, whichever is smaller: lossless.
- Other Flate or unfiltered grey and colour images get Flate with PNG predictors
  (lossless) or, unless OCR_OUTPUT_KEEP_LOSSLESS is set, JPEG at OCR_OUTPUT_JPEG_QUALITY in
  their own colour depth (grey stays grey), whichever is smaller. Noisy 8-bit scans do not
  compress losslessly much below their size; JPEG at 85 is what brings them down. The
  lossless encoding (zlib at level 9: 1.4 s for a noisy 300 dpi page, where the JPEG takes
  0.02 s) is tried in full only when a fast reading of a sample of rows leaves it a chance.
  Kept lossless (OCR_OUTPUT_KEEP_LOSSLESS), a noisy image is deflated at level 6: on the
  bench scan's noisy pages it came out the same size as level 9 (0.880 against 0.881 of
  the original stream) in 0.39 s instead of 1.41; level 9 earns its time only on images
  that compress well (a clean page 6% smaller, in 0.17 s).

A stream is replaced only when the new one is smaller; anything unusual (masks, Decode
arrays, indexed or ICC colour, 16-bit samples) is left alone.

The choice for a scanned page's own image can be made ahead, in the page reader's child
(tasks.pdf.prepared_images): `shrink_images` then takes it by the stream's key instead of
decoding and encoding the image again after the last page.
"""

import hashlib
import io
import struct
from collections.abc import Mapping
from dataclasses import dataclass

import pikepdf
from PIL import Image, TiffImagePlugin

# Filters whose data is already an image codec: copied, never decoded.
KEPT_FILTERS = {"/DCTDecode", "/CCITTFaxDecode", "/JBIG2Decode", "/JPXDecode"}
COLOUR_SPACES = {"/DeviceGray": "L", "/DeviceRGB": "RGB"}
# A new stream must save at least this share of the old one to be worth the change.
MIN_SAVING = 0.02
# The lossless encoding is tried in full unless a fast one (zlib level 1) of a sample of
# rows, scaled to the image, comes out this many times the JPEG's size. Level 9 of the
# whole image measured 0.45-1.57 times that estimate (0.87-0.95 on noisy scans and photos,
# 0.45 on a chart); the charts and clean pages it wins on estimate under 1.2 times the JPEG,
# the noisy 300 dpi scan 1.75 times, a photographed page 4.6.
_LOSSLESS_OUT_OF_REACH = 1.5
# The sample: this many bands of rows spread over the image, this share of it in all.
_SAMPLE_BANDS = 8
_SAMPLE_SHARE = 0.125
# zlib levels for the lossless encoding, and the sampled size (a share of the image's
# bytes) from which an image counts as noisy: the bench scan's noisy pages 0.61, a clean
# page 0.03, charts under 0.1.
_BEST_LEVEL = 9
_NOISY_LEVEL = 6
_NOISY_SHARE = 0.3


@dataclass(frozen=True)
class Encoded:
    """An image stream ready to write: its data and the dictionary entries that decode it."""

    data: bytes
    filter: str
    colour_space: str
    bits: int
    parms: dict[str, object] | None = None


def png_flate(image: Image.Image, *, level: int = _BEST_LEVEL) -> Encoded:
    """Return `image` as Flate with PNG predictors: the IDAT data of Pillow's PNG encoder."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=level)
    data = buffer.getvalue()
    idat = []
    position = 8  # past the PNG signature
    while position < len(data):
        length, kind = struct.unpack_from(">I4s", data, position)
        if kind == b"IDAT":
            idat.append(data[position + 8 : position + 8 + length])
        position += 12 + length
    colours = {"1": 1, "L": 1, "RGB": 3}[image.mode]
    bits = 1 if image.mode == "1" else 8
    return Encoded(
        data=b"".join(idat),
        filter="/FlateDecode",
        colour_space="/DeviceGray" if colours == 1 else "/DeviceRGB",
        bits=bits,
        # Predictor 15: each row says which PNG filter it used (Pillow picks per row).
        parms={
            "/Predictor": 15,
            "/Colors": colours,
            "/BitsPerComponent": bits,
            "/Columns": image.width,
        },
    )


def ccitt_g4(image: Image.Image) -> Encoded:
    """Return a 1-bit image as CCITT Group 4, cut out of the one strip of a libtiff TIFF."""
    buffer = io.BytesIO()
    # One strip for the whole image, so its bytes are the whole G4 stream.
    image.save(buffer, format="TIFF", compression="group4", tiffinfo={278: image.height})
    buffer.seek(0)
    with TiffImagePlugin.TiffImageFile(buffer) as tiff:
        tags = tiff.tag_v2
        [offset] = tags[273] if isinstance(tags[273], tuple) else [tags[273]]
        [count] = tags[279] if isinstance(tags[279], tuple) else [tags[279]]
        # Pillow writes 1-bit images min-is-black; G4 codes runs of the bits as given.
        black_is_1 = tags.get(262, 1) == 1
    return Encoded(
        data=buffer.getvalue()[offset : offset + count],
        filter="/CCITTFaxDecode",
        colour_space="/DeviceGray",
        bits=1,
        parms={"/K": -1, "/Columns": image.width, "/Rows": image.height, "/BlackIs1": black_is_1},
    )


def jpeg(image: Image.Image, *, quality: int) -> Encoded:
    """Return a grey or colour image as a baseline JPEG in its own colour depth."""
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality, optimize=True)
    return Encoded(
        data=buffer.getvalue(),
        filter="/DCTDecode",
        colour_space="/DeviceGray" if image.mode == "L" else "/DeviceRGB",
        bits=8,
    )


def bitonal(image: Image.Image) -> Image.Image | None:
    """Return `image` as mode 1 if that loses nothing (it is black and white only), else None."""
    if image.mode == "1":
        return image
    if image.mode != "L":
        return None
    colours = image.getcolors(2)
    if colours is None or {value for _, value in colours} - {0, 255}:
        return None
    return image.point(lambda value: 255 if value else 0).convert("1", dither=Image.Dither.NONE)


def sampled_png_size(image: Image.Image) -> float:
    """Return the PNG size of `image` at zlib level 1 as estimated from bands of its rows."""
    rows = max(8, round(image.height * _SAMPLE_SHARE / _SAMPLE_BANDS))
    if rows * _SAMPLE_BANDS >= image.height:
        bands = [image]
    else:
        step = (image.height - rows) / (_SAMPLE_BANDS - 1)
        tops = [round(number * step) for number in range(_SAMPLE_BANDS)]
        bands = [image.crop((0, top, image.width, top + rows)) for top in tops]
    total = 0
    for band in bands:
        buffer = io.BytesIO()
        band.save(buffer, format="PNG", compress_level=1)
        total += len(buffer.getvalue())
    return total * image.height / sum(band.height for band in bands)


def lossless_level(image: Image.Image) -> int:
    """Return the zlib level worth its time for `image`: the best, unless the image is noise."""
    raw = image.width * image.height * len(image.getbands())
    return _NOISY_LEVEL if sampled_png_size(image) >= _NOISY_SHARE * raw else _BEST_LEVEL


def candidates(image: Image.Image, *, quality: int, keep_lossless: bool) -> list[Encoded]:
    """Return the encodings `image` may be stored in, each showing it as it is shown now."""
    two_tone = bitonal(image)
    if two_tone is not None:
        return [ccitt_g4(two_tone), png_flate(two_tone)]
    if keep_lossless:
        return [png_flate(image, level=lossless_level(image))]
    lossy = jpeg(image, quality=quality)
    if sampled_png_size(image) >= _LOSSLESS_OUT_OF_REACH * len(lossy.data):
        # Noise or a photograph: no lossless encoding comes near the JPEG's size.
        return [lossy]
    return [png_flate(image), lossy]


def may_shrink(stream: pikepdf.Stream) -> bool:
    """Return whether the stream is a plain grey or colour image, by its dictionary alone.

    What it says no to is left as it is without being decoded (or keyed: a kept JPEG
    is never hashed).
    """
    filters = stream.get("/Filter")
    names = [str(name) for name in (filters if isinstance(filters, pikepdf.Array) else [filters])]
    if filters is not None and (set(names) & KEPT_FILTERS or set(names) - {"/FlateDecode"}):
        return False
    if any(key in stream for key in ("/SMask", "/Mask", "/ImageMask", "/Decode", "/SMaskInData")):
        return False
    space = stream.get("/ColorSpace")
    bits = int(stream.get("/BitsPerComponent", 0))
    # PDFium stores a picture of few colours as a palette over DeviceRGB.
    if isinstance(space, pikepdf.Array) and len(space) == 4 and str(space[0]) == "/Indexed":
        return str(space[1]) in COLOUR_SPACES and bits == 8
    mode = COLOUR_SPACES.get(str(space))
    return mode is not None and (bits, mode) in ((8, "L"), (8, "RGB"), (1, "L"))


def decoded_image(stream: pikepdf.Stream) -> Image.Image | None:
    """Return the image a plain grey or colour image XObject shows, or None to leave it be."""
    if not may_shrink(stream):
        return None
    try:
        image = pikepdf.PdfImage(stream).as_pil_image()
    except (pikepdf.PdfError, NotImplementedError, ValueError):
        return None  # a stream qpdf cannot decode is shown as it was
    if image.mode == "P":
        image = image.convert("RGB")
        red, green, blue = image.split()
        if red.tobytes() == green.tobytes() == blue.tobytes():
            image = red  # a grey palette: the page is grey (or black and white)
    if image.mode not in ("1", "L", "RGB"):
        return None
    return image


def write(stream: pikepdf.Stream, encoded: Encoded) -> None:
    """Replace the image stream's data and decoding entries with `encoded`."""
    parms = (
        pikepdf.Dictionary({key: value for key, value in encoded.parms.items()})
        if encoded.parms
        else None
    )
    stream.write(encoded.data, filter=pikepdf.Name(encoded.filter), decode_parms=parms)
    stream.ColorSpace = pikepdf.Name(encoded.colour_space)
    stream.BitsPerComponent = encoded.bits


# The entries of an image stream's dictionary that decide what it shows and how it decodes.
_KEYED_ENTRIES = (
    "/Filter",
    "/DecodeParms",
    "/Width",
    "/Height",
    "/ColorSpace",
    "/BitsPerComponent",
    "/SMask",
    "/Mask",
    "/ImageMask",
    "/Decode",
    "/SMaskInData",
)


def stream_key(stream: pikepdf.Stream, *, quality: int, keep_lossless: bool) -> str:
    """Return a digest of the image stream's bytes, decoding entries and the output settings.

    The same image copied into another PDF (PDFium's page import copies the stream as it
    is) has the same key; anything that could change the choice gives another.
    """
    digest = hashlib.sha256(stream.read_raw_bytes())
    for entry in _KEYED_ENTRIES:
        digest.update(f"{entry}={stream.get(entry)!r};".encode())
    digest.update(f"quality={quality};keep_lossless={keep_lossless}".encode())
    return digest.hexdigest()


def best_encoding(stream: pikepdf.Stream, *, quality: int, keep_lossless: bool) -> Encoded | None:
    """Return the smaller encoding the stream's image should get, or None to leave it as is."""
    image = decoded_image(stream)
    if image is None:
        return None
    best = min(
        candidates(image, quality=quality, keep_lossless=keep_lossless),
        key=lambda encoded: len(encoded.data),
    )
    if len(best.data) < (1 - MIN_SAVING) * len(stream.read_raw_bytes()):
        return best
    return None


def shrink_images(
    pdf: pikepdf.Pdf,
    *,
    quality: int,
    keep_lossless: bool,
    prepared: Mapping[str, Encoded | None] | None = None,
) -> int:
    """Re-encode each image of `pdf` that a smaller encoding shows the same; return how many.

    `prepared` holds choices already made for some streams, by `stream_key`: those are
    written without decoding the image again.
    """
    known = prepared or {}
    seen: set[tuple[int, int]] = set()
    changed = 0
    for page in pdf.pages:
        for stream in page.get_images().values():
            if not isinstance(stream, pikepdf.Stream) or stream.objgen in seen:
                continue
            seen.add(stream.objgen)
            if not may_shrink(stream):
                continue
            key = stream_key(stream, quality=quality, keep_lossless=keep_lossless) if known else ""
            if key in known:
                best = known[key]
            else:
                best = best_encoding(stream, quality=quality, keep_lossless=keep_lossless)
            if best is not None:
                write(stream, best)
                changed += 1
    return changed
