"""Make the searchable PDF a PDF/A-2b file (ISO 19005-2, level B) when OCR_OUTPUT_PDFA is set.

Archives ask for PDF/A: a file that says what it is in XMP (pdfaid part 2, conformance B),
carries the colour profile its device colours mean (an sRGB OutputIntent) and holds
nothing a viewer of the future could not show the same way. The text layer's font is
embedded and never shows .notdef (tasks.pdf.glyphless_font); qpdf writes the trailer /ID and
no encryption. What an uploaded PDF page may bring that PDF/A forbids (actions,
JavaScript, interpolated images, annotations that are not printed or have no appearance)
is taken out here. What cannot be taken out without changing how the page looks (a font
the page uses but does not embed, DeviceCMYK colour that an sRGB output intent does not
describe) leaves the PDF/A claim out of the file, logged with its reason: a file that
says it is PDF/A-2b and is not would be worse than a plain PDF.

The sRGB profile is made by Pillow's LittleCMS (ImageCms.createProfile): nothing is
downloaded, and no ICC file needs to be on the machine.
"""

import functools
import hashlib
import logging
from datetime import UTC, datetime

import pikepdf
from PIL import ImageCms

OUTPUT_CONDITION = "sRGB IEC61966-2.1"
# ISO 19005-2 takes ICC.1:2004-10, profile version 4.2; LittleCMS stamps 4.4 on the same tags.
ICC_VERSION = bytes((4, 0x20, 0, 0))
# Catalog and page keys that run actions, which PDF/A forbids (ISO 19005-2, 6.5 and 6.6).
ACTION_KEYS = ("/AA", "/OpenAction")
# Action types PDF/A-2 forbids (6.5.1); a link to a URI or a page stays.
FORBIDDEN_ACTIONS = frozenset(
    "/" + name
    for name in [
        "Launch",
        "Sound",
        "Movie",
        "ResetForm",
        "ImportData",
        "Hide",
        "SetOCGState",
        "Rendition",
        "Trans",
        "GoTo3DView",
        "JavaScript",
    ]
)
# Annotation flags (PDF 32000-1, 12.5.3): Print must be set, Hidden/Invisible/NoView not.
PRINT_FLAG = 4
# Annotations PDF/A-2 lets go without an appearance stream (6.3.3).
NO_APPEARANCE_NEEDED = frozenset({"/Link", "/Popup"})
CMYK_OPERATORS = frozenset({"k", "K"})

logger = logging.getLogger(__name__)


@functools.cache
def srgb_profile() -> bytes:
    """Return an sRGB ICC profile, version 4.2, with its profile ID computed for that header."""
    profile = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    profile[8:12] = ICC_VERSION
    if any(profile[84:100]):
        # The ID: MD5 of the profile with flags, rendering intent and ID zeroed (ICC.1, 7.2.18).
        hashed = bytearray(profile)
        hashed[44:48] = bytes(4)
        hashed[64:68] = bytes(4)
        hashed[84:100] = bytes(16)
        profile[84:100] = hashlib.md5(hashed, usedforsecurity=False).digest()
    return bytes(profile)


def add_output_intent(pdf: pikepdf.Pdf) -> None:
    """Give the document the sRGB OutputIntent its DeviceRGB and DeviceGray images are read in."""
    profile = pdf.make_stream(srgb_profile())
    profile.N = 3
    intent = pikepdf.Dictionary(
        Type=pikepdf.Name.OutputIntent,
        S=pikepdf.Name.GTS_PDFA1,
        OutputConditionIdentifier=OUTPUT_CONDITION,
        Info=OUTPUT_CONDITION,
        DestOutputProfile=profile,
    )
    pdf.Root.OutputIntents = pikepdf.Array([pdf.make_indirect(intent)])


def remove_forbidden(pdf: pikepdf.Pdf) -> None:
    """Take out actions, JavaScript and image interpolation an uploaded page may bring."""
    for key in ACTION_KEYS:
        if key in pdf.Root:
            del pdf.Root[key]
    names = pdf.Root.get("/Names")
    if isinstance(names, pikepdf.Dictionary) and "/JavaScript" in names:
        del names["/JavaScript"]
    for page in pdf.pages:
        if "/AA" in page.obj:
            del page.obj["/AA"]
        for stream in page.get_images().values():
            if stream.get("/Interpolate") is not None:
                del stream["/Interpolate"]
        keep_printable_annotations(page)


def keep_printable_annotations(page: pikepdf.Page) -> None:
    """Keep the annotations PDF/A-2 allows, printed and without forbidden actions."""
    annotations = page.obj.get("/Annots")
    if not isinstance(annotations, pikepdf.Array):
        return
    kept = pikepdf.Array()
    for annotation in annotations:
        if not isinstance(annotation, pikepdf.Dictionary):
            continue
        subtype = str(annotation.get("/Subtype", ""))
        # A note with no appearance of its own would be drawn as each viewer likes.
        if subtype not in NO_APPEARANCE_NEEDED and "/AP" not in annotation:
            continue
        if "/AA" in annotation:
            del annotation["/AA"]
        action = annotation.get("/A")
        if isinstance(action, pikepdf.Dictionary) and str(action.get("/S")) in FORBIDDEN_ACTIONS:
            del annotation["/A"]
        annotation.F = PRINT_FLAG
        kept.append(annotation)
    if kept:
        page.obj.Annots = kept
    else:
        del page.obj["/Annots"]


def unembedded_fonts(page: pikepdf.Page) -> list[str]:
    """Return the names of the fonts the page's resources hold without their font program."""
    resources = page.obj.get("/Resources")
    fonts = resources.get("/Font") if isinstance(resources, pikepdf.Dictionary) else None
    missing: list[str] = []
    for font in fonts.values() if isinstance(fonts, pikepdf.Dictionary) else ():
        if str(font.get("/Subtype")) == "/Type3":
            continue  # its glyphs are content streams in the file
        for descendant in font.get("/DescendantFonts", [font]):
            descriptor = descendant.get("/FontDescriptor")
            if descriptor is None or not any(
                key in descriptor for key in ("/FontFile", "/FontFile2", "/FontFile3")
            ):
                missing.append(str(font.get("/BaseFont", "?")).lstrip("/"))
    return missing


def uses_device_cmyk(page: pikepdf.Page) -> bool:
    """Return True if the page paints in DeviceCMYK: an image, or colour set in its content."""
    for image in page.get_images().values():
        if str(image.get("/ColorSpace")) == "/DeviceCMYK":
            return True
    for instruction in pikepdf.parse_content_stream(page):
        name, operands = str(instruction.operator), instruction.operands
        if name in CMYK_OPERATORS:
            return True
        if name in ("cs", "CS") and operands and str(operands[0]) == "/DeviceCMYK":
            return True
    return False


def conformance_problems(pdf: pikepdf.Pdf) -> list[str]:
    """Return why the document cannot be claimed PDF/A-2b without changing how it looks."""
    problems = []
    for number, page in enumerate(pdf.pages, start=1):
        for font in unembedded_fonts(page):
            problems.append(f"page {number}: font {font} is not embedded")
        if uses_device_cmyk(page):
            problems.append(f"page {number}: DeviceCMYK colour (the output intent is sRGB)")
    return problems


def make_pdfa(pdf: pikepdf.Pdf) -> list[str]:
    """Turn `pdf` into a PDF/A-2b file: XMP identification, OutputIntent, nothing forbidden.

    Return why it could not be, if it could not: then nothing claims PDF/A.
    """
    remove_forbidden(pdf)
    problems = conformance_problems(pdf)
    if problems:
        logger.warning("Searchable PDF left without its PDF/A-2b claim: %s", "; ".join(problems))
        return problems
    add_output_intent(pdf)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    # pikepdf writes the Info dictionary from the XMP on closing, so the two agree (6.6.3).
    with pdf.open_metadata(set_pikepdf_as_editor=False) as metadata:
        metadata["pdfaid:part"] = "2"
        metadata["pdfaid:conformance"] = "B"
        metadata["xmp:CreateDate"] = now
        metadata["xmp:ModifyDate"] = now
        metadata["xmp:MetadataDate"] = now
        metadata["pdf:Producer"] = "OCR service searchable PDF"
    return []
