"""OCR_OUTPUT_PDFA: the searchable PDF as PDF/A-2b, with the checks veraPDF makes that we can.

veraPDF itself is not installed here; these are its rules for PDF/A-2b that the file can
break (ISO 19005-2 clause in each comment), checked on a real output of the worker.
"""

import io
import re

import pikepdf
import pypdfium2 as pdfium
import pytest
from django.test import override_settings
from PIL import Image, ImageCms

from tasks.models import OcrTask, Status
from tasks.pdf.pdfa import make_pdfa, srgb_profile

from .conftest import upload_file
from .samples import scan_pdf_bytes, text_pdf_bytes
from .scan_corpus import PAGE_INCHES, noisy, upright_page

worker_db = pytest.mark.django_db(transaction=True)


def searchable_pdf(data: bytes, *, user, client_for, api_upload, run_worker) -> bytes:
    response = api_upload(client_for(user), upload_file(data, "scan.pdf"))
    assert response.status_code == 201, response.content
    run_worker()
    task = OcrTask.objects.get(pk=response.json()[0]["id"])
    assert task.status == Status.COMPLETED, task.error
    with task.searchable_pdf.open("rb") as stored:
        return stored.read()


def pdfa_problems(data: bytes) -> list[str]:
    """Return the PDF/A-2b rules `data` breaks, of those checked here."""
    problems = []
    if not re.match(rb"%PDF-1\.[0-7]\n%[\x80-\xff]{4}", data[:16]):
        problems.append("6.1.2: header %PDF-1.n and a binary comment")
    with pikepdf.open(io.BytesIO(data)) as pdf:
        if pdf.is_encrypted:
            problems.append("6.1.3: encrypted")
        if "/ID" not in pdf.trailer or len(pdf.trailer.ID) != 2:
            problems.append("6.1.3: trailer has no /ID")
        metadata = pdf.Root.get("/Metadata")
        if metadata is None or "/Filter" in metadata:
            problems.append("6.6.2.1: no unfiltered XMP metadata stream")
        else:
            xmp = pdf.open_metadata()
            if (xmp.get("pdfaid:part"), xmp.get("pdfaid:conformance")) != ("2", "B"):
                problems.append("6.6.4: XMP pdfaid is not part 2, conformance B")
            info = pdf.docinfo
            if "/Producer" in info and str(info.Producer) != xmp.get("pdf:Producer"):
                problems.append("6.6.3: Info /Producer disagrees with XMP")
        intents = list(pdf.Root.get("/OutputIntents", []))
        pdfa_intents = [i for i in intents if str(i.get("/S")) == "/GTS_PDFA1"]
        if len(pdfa_intents) != 1 or "/DestOutputProfile" not in pdfa_intents[0]:
            problems.append("6.2.3: no GTS_PDFA1 OutputIntent with a profile")
        else:
            profile = pdfa_intents[0].DestOutputProfile
            icc = profile.read_bytes()
            if int(profile.N) != 3 or icc[16:20] != b"RGB " or icc[8] > 4:
                problems.append("6.2.3: OutputIntent profile is not an RGB ICC v2/v4 profile")
        for key in ("/AA", "/OpenAction"):
            if key in pdf.Root:
                problems.append(f"6.5/6.6: catalog {key}")
        for number, page in enumerate(pdf.pages):
            if "/AA" in page.obj:
                problems.append(f"6.5: page {number} /AA")
            for image in page.get_images().values():
                if image.get("/Interpolate") is True:
                    problems.append("6.2.8: interpolated image")
                if str(image.get("/Filter")) == "/LZWDecode":
                    problems.append("6.1.7: LZW")
            for font in page.Resources.get("/Font", {}).values():
                descendants = font.get("/DescendantFonts", [font])
                for descendant in descendants:
                    descriptor = descendant.get("/FontDescriptor")
                    if descriptor is None or not any(
                        key in descriptor for key in ("/FontFile", "/FontFile2", "/FontFile3")
                    ):
                        problems.append(f"6.2.11.4: font {font.get('/BaseFont')} not embedded")
                    gid_map = descendant.get("/CIDToGIDMap")
                    if isinstance(gid_map, pikepdf.Stream):
                        gids = gid_map.read_bytes()[2:]
                        if any(gids[i : i + 2] == b"\0\0" for i in range(0, len(gids), 2)):
                            problems.append("6.2.11.8: a character shows .notdef")
    return problems


def test_the_check_finds_what_a_plain_pdf_lacks():
    data = scan_pdf_bytes([(upright_page(seed=1, font="DejaVu Sans", dpi=100)[0], *PAGE_INCHES)])
    problems = pdfa_problems(data)
    assert any("6.1.3: trailer" in p for p in problems)
    assert any("6.6.2.1" in p for p in problems)
    assert any("6.2.3" in p for p in problems)


def test_the_srgb_profile_is_one_littlecms_reads():
    profile = ImageCms.ImageCmsProfile(io.BytesIO(srgb_profile()))
    assert "sRGB" in ImageCms.getProfileDescription(profile)
    assert srgb_profile()[8:10] == bytes((4, 0x20))


@worker_db
def test_pdfa_output_passes_the_pdfa_2b_checks_and_stays_searchable(
    user, client_for, api_upload, run_worker
):
    image, text = upright_page(seed=2900, font="DejaVu Sans", dpi=300)
    data = scan_pdf_bytes([(noisy(image, seed=1), *PAGE_INCHES)], encoding="jpeg-grey")
    with override_settings(OCR_OUTPUT_PDFA=True):
        output = searchable_pdf(
            data, user=user, client_for=client_for, api_upload=api_upload, run_worker=run_worker
        )
    assert pdfa_problems(output) == []
    [page] = pdfium.PdfDocument(output)
    found = page.get_textpage().get_text_bounded().lower()
    expected = [word for word in text.lower().split() if len(word) >= 6]
    assert sum(word in found for word in expected) >= 0.7 * len(expected), found
    # Without the setting, the same upload is not PDF/A.
    plain = searchable_pdf(
        data, user=user, client_for=client_for, api_upload=api_upload, run_worker=run_worker
    )
    assert any("pdfaid" in problem for problem in pdfa_problems(plain)) or any(
        "6.2.3" in problem for problem in pdfa_problems(plain)
    )


def with_annotations(data: bytes) -> bytes:
    """Return the PDF with a JavaScript link, a URI link and a note without appearance."""
    with pikepdf.open(io.BytesIO(data)) as pdf:
        rect = pikepdf.Array([10, 10, 60, 30])
        script = pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS=pikepdf.String("app.alert(1)"))
        uri = pikepdf.Dictionary(S=pikepdf.Name.URI, URI=pikepdf.String("https://example.org/"))
        pdf.pages[0].obj.Annots = pikepdf.Array(
            [
                pdf.make_indirect(
                    pikepdf.Dictionary(
                        Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Link, Rect=rect, A=script
                    )
                ),
                pdf.make_indirect(
                    pikepdf.Dictionary(
                        Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Link, Rect=rect, A=uri
                    )
                ),
                pdf.make_indirect(
                    pikepdf.Dictionary(
                        Type=pikepdf.Name.Annot,
                        Subtype=pikepdf.Name.Text,
                        Rect=rect,
                        Contents=pikepdf.String("a note"),
                    )
                ),
            ]
        )
        out = io.BytesIO()
        pdf.save(out)
    return out.getvalue()


def test_annotations_are_kept_printed_without_scripts_or_dropped_without_appearance():
    scan = scan_pdf_bytes([(upright_page(seed=3, font="DejaVu Sans", dpi=100)[0], *PAGE_INCHES)])
    with pikepdf.open(io.BytesIO(with_annotations(scan))) as pdf:
        problems = make_pdfa(pdf)
        annotations = list(pdf.pages[0].obj.Annots)

    assert problems == []
    assert [str(annotation.Subtype) for annotation in annotations] == ["/Link", "/Link"]
    assert ["/A" in annotation for annotation in annotations] == [False, True]
    assert str(annotations[1].A.URI) == "https://example.org/"
    assert {int(annotation.F) for annotation in annotations} == {4}


def cmyk_page_pdf(*, image: bool) -> pikepdf.Pdf:
    pdf = pikepdf.new()
    if image:
        picture = io.BytesIO()
        Image.new("CMYK", (20, 20), (0, 255, 255, 0)).save(picture, format="JPEG")
        stream = pdf.make_stream(
            picture.getvalue(),
            Type=pikepdf.Name.XObject,
            Subtype=pikepdf.Name.Image,
            Width=20,
            Height=20,
            ColorSpace=pikepdf.Name.DeviceCMYK,
            BitsPerComponent=8,
            Filter=pikepdf.Name.DCTDecode,
        )
        content = b"q 100 0 0 100 0 0 cm /Im0 Do Q"
        resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=stream))
    else:
        content = b"0 1 1 0 k 0 0 100 100 re f"
        resources = pikepdf.Dictionary()
    page = pikepdf.Dictionary(
        Type=pikepdf.Name.Page,
        MediaBox=pikepdf.Array([0, 0, 100, 100]),
        Contents=pdf.make_stream(content),
        Resources=resources,
    )
    pdf.pages.append(pikepdf.Page(page))
    return pdf


@pytest.mark.parametrize("image", [True, False], ids=["cmyk-image", "cmyk-fill"])
def test_device_cmyk_leaves_the_pdfa_claim_out(image):
    with cmyk_page_pdf(image=image) as pdf:
        problems = make_pdfa(pdf)
        claimed = pdf.open_metadata().get("pdfaid:part")

    assert problems == ["page 1: DeviceCMYK colour (the output intent is sRGB)"]
    assert claimed is None


@worker_db
def test_a_copied_page_with_a_font_not_embedded_is_not_claimed_pdfa(
    user, client_for, api_upload, run_worker
):
    data = text_pdf_bytes([["Quarterly report of the harbour office"]])
    with override_settings(OCR_OUTPUT_PDFA=True):
        output = searchable_pdf(
            data, user=user, client_for=client_for, api_upload=api_upload, run_worker=run_worker
        )

    problems = pdfa_problems(output)
    assert "6.6.2.1: no unfiltered XMP metadata stream" in problems  # so no pdfaid claim
    assert any("Helvetica not embedded" in problem for problem in problems)
    [page] = pdfium.PdfDocument(output)
    assert "harbour" in page.get_textpage().get_text_bounded()
