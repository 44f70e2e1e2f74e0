"""Make the searchable PDF a PDF/A-2b file (ISO 19005-2, level B) when OCR_OUTPUT_PDFA is set.

Archives ask for PDF/A: a file that says what it is in XMP (pdfaid part 2, conformance B),
carries the colour profile its device colours mean (an sRGB OutputIntent) and holds
nothing a viewer of the future could not show the same way. The text layer's font is
embedded and never shows .notdef (tasks.glyphless_font); qpdf writes the trailer /ID and
no encryption. What an uploaded PDF page may bring that PDF/A forbids (actions,
JavaScript, interpolated images) is taken out here.

The sRGB profile is made by Pillow's LittleCMS (ImageCms.createProfile): nothing is
downloaded, and no ICC file needs to be on the machine.
"""

import functools
import hashlib
from datetime import UTC, datetime

import pikepdf
from PIL import ImageCms

OUTPUT_CONDITION = "sRGB IEC61966-2.1"
# ISO 19005-2 takes ICC.1:2004-10, profile version 4.2; LittleCMS stamps 4.4 on the same tags.
ICC_VERSION = bytes((4, 0x20, 0, 0))
# Catalog and page keys that run actions, which PDF/A forbids (ISO 19005-2, 6.5 and 6.6).
ACTION_KEYS = ("/AA", "/OpenAction")


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


def make_pdfa(pdf: pikepdf.Pdf) -> None:
    """Turn `pdf` into a PDF/A-2b file: XMP identification, OutputIntent, nothing forbidden."""
    remove_forbidden(pdf)
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
