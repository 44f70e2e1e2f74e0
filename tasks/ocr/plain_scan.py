"""Tell a plain scan, a page whose drawing costs no more than decoding its images.

Drawing a PDF page runs whatever its content asks for, and a hostile page can ask for
minutes and gigabytes: paths by the million, patterns, shadings, forms nested in forms,
annotation appearances (forms too), soft masks that draw a group, colour spaces whose
tint transforms (PostScript programs) run for each pixel, JBIG2 and JPEG 2000 images whose
decoders allocate what their own headers say. So pages are drawn in a child process under
a time and a memory limit (tasks.ocr.render), and that child costs a scanned page about
twice its drawing.

A page proven to be nothing but a few images, each decoded by a codec whose work is
bounded by the pixels the image declares, and those pixels within the pixel limit, costs
no more to draw than its pixels do: it is drawn in the calling process. The proof is a
strict allowlist; whatever it does not recognise, or any surprise in reading the file,
sends the page to the child as before. What PDFium, which draws the page, reports is
checked first (its objects, their filters and sizes); what it does not expose (masks,
colour spaces, graphics states, a JPEG's own header) is read with pikepdf, and the two
readings must agree image for image, so a file that the two parsers read differently is
not drawn here.
"""

import io
import zlib
from decimal import Decimal

import pikepdf
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image

# A scan is one image a page, sometimes a few (a mixed-raster page, tiles); each is one
# more decoding and compositing over the whole bitmap.
MAX_IMAGES = 8
# Codecs whose work and memory follow the declared width and height. JBIG2 (a symbol
# dictionary and refinement regions) and JPEG 2000 (tiles, layers and sizes from its own
# headers) are left out: they can be made slow, or allocate more than the image shows.
PLAIN_FILTERS = frozenset({"FlateDecode", "DCTDecode", "CCITTFaxDecode", "RunLengthDecode"})
# A scan's content stream is "q w 0 0 h x y cm /Im0 Do Q", tens of bytes. PDFium already
# parsed it in this process; this bounds only what is decoded and parsed again here.
MAX_CONTENT_BYTES = 64 * 1024
# ICC profiles are a few kilobytes (a camera's at most a few hundred); an Indexed palette
# is at most 256 entries of 4 components.
_MAX_PROFILE_BYTES = 1024 * 1024
_MAX_PALETTE_BYTES = 4 * 1024
# Each scan of a progressive JPEG is one more pass over every block of the image, and a
# scan can cost a few bytes: thousands of passes from a small file. Baseline files have
# one scan (or one per colour), progressive ones about ten.
_MAX_JPEG_SCANS = 64
# Resources are inherited down the page tree; real trees are a few levels deep.
_MAX_PAGE_TREE_DEPTH = 32
# Operators that only place images, keep state or mark content. No path painting, text,
# shading, inline images (BI), or pattern colour (cs, scn): a stencil mask painted with a
# pattern would run the pattern's content for it. No clipping (re W n): under a turned
# matrix each clip is a path PDFium fills over the whole bitmap, again for every image
# (an attack's 500 clips took 43.5 s on one page), and a scan has nothing to clip.
_PLAIN_OPERATORS = frozenset(
    {"q", "Q", "cm", "Do", "gs", "w", "J", "j", "M", "d", "ri", "i"}
    | {"g", "G", "rg", "RG", "k", "K", "BMC", "BDC", "EMC", "MP", "DP"}
)
# Marked content whose properties are a resource by name (BDC, DP) may be optional content
# (an /OC membership dictionary): PDFium evaluates its visibility expression without a
# memo, doubling its work a level (a 3 KB file, 28 levels, took 25 s). Inline properties
# (a tagged scan's /P <</MCID 0>> BDC) say nothing PDFium evaluates.
_PROPERTY_OPERATORS = frozenset({"BDC", "DP"})
# ExtGState entries that set numbers, names or flags. A soft mask (/SMask other than
# /None) draws a transparency group, a form; transfer, black-generation and undercolour
# functions are programs; a font belongs to text, which a plain page has none of. Blending
# and constant alpha are kept to what changes nothing (Normal, 1): a blend mode or an alpha
# composites every image through a transparency buffer (8 turned images under Multiply
# and ca 0.5 took 164 s, past the child's limit); alpha-is-shape and knockout with them.
_PLAIN_STATE_KEYS = frozenset(
    {"/Type", "/LW", "/LC", "/LJ", "/ML", "/D", "/RI", "/OP", "/op", "/OPM", "/FL", "/SM"}
    | {"/SA", "/BM", "/CA", "/ca", "/SMask"}
)
_PLAIN_BLEND_MODES = frozenset({"/Normal", "/Compatible"})
# Colour spaces that convert each pixel by arithmetic or one lookup, by how PDFium names
# them. Separation and DeviceN evaluate a tint transform per pixel (a PostScript program
# can be long); Lab and Pattern are left out as no scanner writes them for an image.
_DEVICE_SPACES = {
    "/DeviceGray": pdfium_c.FPDF_COLORSPACE_DEVICEGRAY,
    "/DeviceRGB": pdfium_c.FPDF_COLORSPACE_DEVICERGB,
    "/DeviceCMYK": pdfium_c.FPDF_COLORSPACE_DEVICECMYK,
}
_CIE_SPACES = {
    "/CalGray": pdfium_c.FPDF_COLORSPACE_CALGRAY,
    "/CalRGB": pdfium_c.FPDF_COLORSPACE_CALRGB,
}
# A stencil mask (/ImageMask true) has no colour space of its own.
_STENCIL = pdfium_c.FPDF_COLORSPACE_UNKNOWN

# One image drawn on the page: (width, height), filters, PDFium's colour space family.
type Drawn = tuple[tuple[int, int], tuple[str, ...], int]


def is_plain_scan(page: pdfium.PdfPage, *, path: str, index: int, max_pixels: int) -> bool:
    """Return True if page `index` of `path` (loaded as `page`) may be drawn in this process.

    That is: no annotations, and 1 to MAX_IMAGES objects on the page, all images placed from
    the page's resources, with plain filters, colour spaces and masks, their declared pixels
    and their masks' within `max_pixels`, and a small content stream. Call holding the
    PDFium lock; neither the images nor their masks are decoded.
    """
    try:
        images = _pdfium_images(page, max_pixels=max_pixels)
        if images is None:
            return False
        read = _qpdf_images(path=path, index=index, max_pixels=max_pixels)
        seen = [(image.get_px_size(), tuple(image.get_filters())) for image in images]
        if read is None or seen != [(size, filters) for size, filters, _ in read]:
            return False
        # Only now, each image's filters, masks and colour space proven plain as qpdf
        # reads them, PDFium loads the colour spaces (an ICC profile) to say which it reads.
        families = [image.get_metadata().colorspace for image in images]
    except pdfium.PdfiumError:
        return False
    return families == [family for _, _, family in read]


def _pdfium_images(page: pdfium.PdfPage, *, max_pixels: int) -> list[pdfium.PdfImage] | None:
    """Return the page's objects if all are images with plain filters, within the pixels."""
    count = pdfium_c.FPDFPage_CountObjects(page)
    # Annotations are drawn too, and an appearance is a form of any content.
    if not 1 <= count <= MAX_IMAGES or pdfium_c.FPDFPage_GetAnnotCount(page) != 0:
        return None
    images = []
    pixels = 0
    for found in page.get_objects(max_depth=0):
        if not isinstance(found, pdfium.PdfImage):
            return None
        filters = found.get_filters()
        # One filter at most: a chain is decoded up front, whole, before the image codec.
        if len(filters) > 1 or not PLAIN_FILTERS.issuperset(filters):
            return None
        if not _upright(found.get_matrix()):
            return None
        width, height = found.get_px_size()
        pixels += width * height
        images.append(found)
    return images if len(images) == count and pixels <= max_pixels else None


def _upright(matrix: pdfium.PdfMatrix) -> bool:
    """Return True if the image is placed straight or turned by quarter turns, not skewed.

    PDFium draws a straight image row by row into the page's bitmap, clipped to it; a
    turned or sheared one it first stretches to the size of its placement, which a thin
    parallelogram makes huge (an attack's 100 x 100 image under a near-degenerate skew
    took 2.1 GB, eight of them 19 s), then resamples every pixel (eight 2500 x 2500 images
    at 45 degrees: 26 s). A scan is placed straight, or turned a quarter.
    """
    a, b, c, d = matrix.a, matrix.b, matrix.c, matrix.d
    straight = b == 0 and c == 0 and a != 0 and d != 0
    quarter = a == 0 and d == 0 and b != 0 and c != 0
    return straight or quarter


def _qpdf_images(*, path: str, index: int, max_pixels: int) -> list[Drawn] | None:
    """Return the images page `index` draws as pikepdf reads them, None if any is not plain."""
    try:
        with pikepdf.open(path) as pdf:
            if "/OCProperties" in pdf.Root:  # optional content anywhere: see _PROPERTY_OPERATORS
                return None
            return _page_images(pdf, pdf.pages[index].obj, max_pixels=max_pixels)
    except Exception:  # a file qpdf cannot read, a string for a number: not proven plain
        return None


def _page_images(
    pdf: pikepdf.Pdf, page: pikepdf.Dictionary, *, max_pixels: int
) -> list[Drawn] | None:
    resources = _inherited(page, "/Resources")
    content = _content(page)
    if not isinstance(resources, pikepdf.Dictionary) or content is None:
        return None
    xobjects = resources.get("/XObject")
    states = resources.get("/ExtGState")
    spaces = resources.get("/ColorSpace")
    images: list[Drawn] = []
    budget = max_pixels
    for instruction in pikepdf.parse_content_stream(pikepdf.Stream(pdf, content)):
        operator = str(instruction.operator)
        if operator not in _PLAIN_OPERATORS:
            return None
        if operator in _PROPERTY_OPERATORS and not _inline_properties(list(instruction.operands)):
            return None
        named = _named(list(instruction.operands)) if operator in ("gs", "Do") else None
        if operator == "gs" and not _plain_state(_resource(states, named)):
            return None
        if operator == "Do":
            if len(images) == MAX_IMAGES:
                return None
            # A form XObject is content of its own; only images are placed.
            checked = _plain_image(_resource(xobjects, named), spaces, role="image")
            if checked is None:
                return None
            drawn, pixels = checked
            budget -= pixels
            if budget < 0:
                return None
            images.append(drawn)
    return images


def _inherited(page: pikepdf.Dictionary, key: str) -> object:
    node: object = page
    for _ in range(_MAX_PAGE_TREE_DEPTH):
        if not isinstance(node, pikepdf.Dictionary):
            return None
        if key in node:
            return node[key]
        node = node.get("/Parent")
    return None


def _content(page: pikepdf.Dictionary) -> bytes | None:
    """Return the page's content streams, decoded and joined, if within MAX_CONTENT_BYTES."""
    contents = page.get("/Contents")
    streams = [contents] if isinstance(contents, pikepdf.Stream) else contents
    if not isinstance(streams, (list, pikepdf.Array)):
        return None
    parts = []
    room = MAX_CONTENT_BYTES
    for stream in streams:
        decoded = _decoded_within(stream, room)
        if decoded is None:
            return None
        room -= len(decoded) + 1
        parts.append(decoded)
    return b"\n".join(parts)


def _decoded_within(stream: object, limit: int) -> bytes | None:
    """Return a stream's data decoded if it is at most `limit` bytes, never inflating more.

    Unfiltered or one FlateDecode without parameters only: anything else is not plain.
    """
    if not isinstance(stream, pikepdf.Stream):
        return None
    raw = stream.read_raw_bytes()
    # The raw length first: a small limit is never met by decoding a large stream.
    if len(raw) > limit:
        return None
    filters = _filters(stream)
    if not filters:
        return raw
    if filters != ("FlateDecode",) or stream.get("/DecodeParms") is not None:
        return None
    data = zlib.decompressobj().decompress(raw, limit + 1)
    return data if len(data) <= limit else None


def _filters(stream: pikepdf.Stream) -> tuple[str, ...]:
    named = stream.get("/Filter")
    if named is None:
        return ()
    names = [named] if isinstance(named, pikepdf.Name) else list(named)
    if not all(isinstance(name, pikepdf.Name) for name in names):
        raise TypeError("a filter that is not a name")
    return tuple(str(name)[1:] for name in names)


def _named(operands: list[object]) -> pikepdf.Name:
    """Return the one operand of gs or Do, a resource's name."""
    if len(operands) != 1 or not isinstance(operands[0], pikepdf.Name):
        raise TypeError("not one name")
    return operands[0]


def _inline_properties(operands: list[object]) -> bool:
    """Return True for BDC/DP operands of a tag other than /OC and an inline dictionary."""
    return (
        len(operands) == 2
        and isinstance(operands[0], pikepdf.Name)
        and operands[0] != pikepdf.Name.OC
        and isinstance(operands[1], pikepdf.Dictionary)
    )


def _resource(kind: object, name: pikepdf.Name | None) -> object:
    """Return the resource `name` of one kind (a dictionary of resources), None if absent."""
    if not isinstance(kind, pikepdf.Dictionary) or name is None:
        return None
    return kind.get(name)


def _plain_state(state: object) -> bool:
    if not isinstance(state, pikepdf.Dictionary):
        return False
    return all(_plain_state_entry(key, value) for key, value in state.items())


def _plain_state_entry(key: str, value: object) -> bool:
    if key not in _PLAIN_STATE_KEYS:
        return False
    if key == "/SMask":
        return value == pikepdf.Name("/None")
    if key == "/BM":
        return str(value) in _PLAIN_BLEND_MODES
    if key in ("/CA", "/ca"):
        return isinstance(value, (int, Decimal)) and not isinstance(value, bool) and value >= 1
    return True


def _size(value: object) -> int:
    # bool is an int to Python, and a real number (Decimal from pikepdf) is not a size.
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValueError("not a positive integer")
    return value


def _plain_image(stream: object, spaces: object, *, role: str) -> tuple[Drawn, int] | None:
    """Return an image XObject as drawn and its pixels with its masks', None if not plain.

    `role` is "image" (placed by Do), "/SMask" or "/Mask" (an image's mask).
    """
    if not isinstance(stream, pikepdf.Stream) or stream.get("/Subtype") != pikepdf.Name.Image:
        return None
    if "/OC" in stream:  # optional content: a visibility expression PDFium evaluates
        return None
    width, height = _size(stream.get("/Width")), _size(stream.get("/Height"))
    filters = _filters(stream)
    if len(filters) > 1 or not PLAIN_FILTERS.issuperset(filters):
        return None
    if not _parameters_fit(stream, filters, width=width, height=height):
        return None
    if stream.get("/ImageMask") is True:
        # A stencil is painted with the fill colour; it is plain as a mask only.
        family: int | None = _STENCIL if role == "/Mask" else None
    else:
        family = _colour_space(stream.get("/ColorSpace"), spaces)
    if family is None:
        return None
    if filters == ("DCTDecode",) and not _jpeg_as_declared(stream, width=width, height=height):
        return None
    pixels = width * height
    for key in ("/SMask", "/Mask") if role == "image" else ():
        mask = stream.get(key)
        if isinstance(mask, pikepdf.Stream):  # a /Mask array is a colour key: no image
            checked = _plain_image(mask, spaces, role=key)
            if checked is None:
                return None
            pixels += checked[1]
    return ((width, height), filters, family), pixels


def _parameters_fit(stream: pikepdf.Stream, filters: tuple[str, ...], **size: int) -> bool:
    """Return False if the decoder's parameters make it decode rows wider or more than shown."""
    parameters = stream.get("/DecodeParms")
    if isinstance(parameters, pikepdf.Array):
        parameters = parameters[0] if len(parameters) == 1 else None
    elif parameters is None:
        parameters = pikepdf.Dictionary()
    if not isinstance(parameters, pikepdf.Dictionary):
        return False
    if filters == ("FlateDecode",) and parameters.get("/Predictor", 1) != 1:
        # A predictor decodes rows of Columns x Colors x BitsPerComponent, whatever /Width.
        return (
            parameters.get("/Columns", 1) == size["width"]
            and parameters.get("/Colors", 1) in (1, 2, 3, 4)
            and parameters.get("/BitsPerComponent", 8) in (1, 2, 4, 8, 16)
        )
    if filters == ("CCITTFaxDecode",):
        # The fax decoder decodes Columns (default 1728) a row, up to 65535, whatever /Width.
        return parameters.get("/Columns", 1728) == size["width"] and parameters.get("/Rows", 0) in (
            0,
            size["height"],
        )
    return True


def _colour_space(space: object, spaces: object, *, in_palette: bool = False) -> int | None:
    """Return PDFium's family of a plain colour space, None for any other."""
    if isinstance(space, pikepdf.Name):
        if str(space) in _DEVICE_SPACES:
            return _DEVICE_SPACES[str(space)]
        # A name of the page's /ColorSpace resources, once: a name for a name is not plain.
        named = spaces.get(space) if isinstance(spaces, pikepdf.Dictionary) else None
        return _colour_space(named, None, in_palette=in_palette) if named is not None else None
    if not isinstance(space, pikepdf.Array) or len(space) < 2:
        return None
    family = str(space[0])
    if family in _CIE_SPACES and isinstance(space[1], pikepdf.Dictionary):
        return _CIE_SPACES[family]
    if family == "/ICCBased" and _plain_profile(space[1], spaces):
        return pdfium_c.FPDF_COLORSPACE_ICCBASED
    if family == "/Indexed" and not in_palette and len(space) == 4:
        # One lookup a pixel, in a palette of at most 256 entries over a plain base.
        base = _colour_space(space[1], spaces, in_palette=True)
        hival, palette = space[2], space[3]
        if base is None or not isinstance(hival, int) or not 0 <= hival <= 255:
            return None
        if isinstance(palette, pikepdf.Stream):
            palette = _decoded_within(palette, _MAX_PALETTE_BYTES)
        elif isinstance(palette, pikepdf.String):
            palette = bytes(palette)
        return pdfium_c.FPDF_COLORSPACE_INDEXED if isinstance(palette, bytes) else None
    return None


def _plain_profile(profile: object, spaces: object) -> bool:
    """Return True for an ICC profile stream of 1, 3 or 4 components, of a bounded size."""
    if not isinstance(profile, pikepdf.Stream) or profile.get("/N") not in (1, 3, 4):
        return False
    alternate = profile.get("/Alternate")
    if alternate is not None and _alternate_family(alternate, spaces) is None:
        return False
    return _decoded_within(profile, _MAX_PROFILE_BYTES) is not None


def _alternate_family(space: object, spaces: object) -> int | None:
    """Return the family of an ICC profile's /Alternate: a device or CIE space, no other."""
    family = _colour_space(space, spaces, in_palette=True)
    allowed = {*_DEVICE_SPACES.values(), *_CIE_SPACES.values()}
    return family if family in allowed else None


def _jpeg_as_declared(stream: pikepdf.Stream, *, width: int, height: int) -> bool:
    """Return True if the JPEG's own header gives the declared size, in few scans."""
    data = stream.read_raw_bytes()
    # FF DA starts a scan; in entropy-coded data an FF is followed by 00 or a restart
    # marker, so the count is exact, or too high (a thumbnail in EXIF): towards the child.
    if data.count(b"\xff\xda") > _MAX_JPEG_SCANS:
        return False
    # The libjpeg in PDFium allocates and decodes what the JPEG's header says, not /Width.
    with Image.open(io.BytesIO(data), formats=["JPEG"]) as jpeg:  # the header only
        return jpeg.size == (width, height)
