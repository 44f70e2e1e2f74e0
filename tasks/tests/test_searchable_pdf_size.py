"""The searchable PDF keeps the scan's own images, and its text still lands.

A scanned PDF's pages are imported as they are (their image streams copied, not re-encoded),
so the output is about the input's size; skewed and turned pages keep their image too, and
the text layer is turned onto the words where they are on the scan. Checked the way a user
would: the output is drawn by PDFium, each word of the text layer is cut out of the drawing
where PDFium says it is, and Tesseract reads that cut-out back.
"""

import ctypes
import io

import pikepdf
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
import pytest
import tesserocr
from PIL import Image, ImageOps

from tasks.models import OcrTask, Status
from tasks.ocr.engines import tesseract_data_path

from .conftest import upload_file
from .samples import scan_pdf_bytes
from .scan_corpus import PAGE_INCHES, character_error_rate, noisy, rotated, skewed, upright_page

worker_db = pytest.mark.django_db(transaction=True)
DRAW_DPI = 150


def scan_with_turned_pages() -> bytes:
    """Return a 3-page 300 dpi scan: upright, skewed 2 degrees, turned a quarter and skewed."""
    pages = []
    for index, (degrees, turns) in enumerate(((0.0, 0), (2.0, 0), (-1.5, 1))):
        image, _ = upright_page(seed=2400 + index, font="DejaVu Sans", dpi=300)
        image = noisy(skewed(image, degrees) if degrees else image, seed=index)
        if turns:
            image = rotated(image, turns)
        width_in, height_in = PAGE_INCHES[::-1] if turns % 2 else PAGE_INCHES
        pages.append((image, width_in, height_in))
    return scan_pdf_bytes(pages)


def device_box(page: pdfium.PdfPage, box, *, size: tuple[int, int]) -> tuple[int, int, int, int]:
    """Return a user-space box (l, b, r, t) as pixels of the page drawn at `size`."""
    xs, ys = [], []
    for x, y in ((box[0], box[1]), (box[2], box[3]), (box[0], box[3]), (box[2], box[1])):
        dx, dy = ctypes.c_int(), ctypes.c_int()
        pdfium_c.FPDF_PageToDevice(page, 0, 0, size[0], size[1], 0, x, y, dx, dy)
        xs.append(dx.value)
        ys.append(dy.value)
    return min(xs), min(ys), max(xs), max(ys)


def read_word(image: Image.Image) -> str:
    """Return what Tesseract reads in a cut-out holding one word (no page-level filters)."""
    with tesserocr.PyTessBaseAPI(
        path=tesseract_data_path(), lang="eng", psm=tesserocr.PSM.SINGLE_LINE
    ) as api:
        api.SetImage(image)
        return api.GetUTF8Text().strip()


def words_read_back(data: bytes) -> list[tuple[int, str, str]]:
    """Return (page, word in the text layer, Tesseract's reading of the drawing there)."""
    found = []
    document = pdfium.PdfDocument(data)
    for number, page in enumerate(document):
        drawing = page.render(scale=DRAW_DPI / 72).to_pil().convert("L")
        textpage = page.get_textpage()
        # Words from the characters one by one: the page's text as a string also holds
        # the line breaks PDFium makes up, which would shift every index after them.
        chars = [
            (textpage.get_text_range(i, 1), textpage.get_charbox(i, loose=True))
            for i in range(textpage.count_chars())
        ]
        words: list[list[tuple[str, tuple]]] = [[]]
        for char, box in chars:
            if char.isalpha():
                words[-1].append((char, box))
            elif words[-1]:
                words.append([])
        for letters in words:
            word = "".join(char for char, _ in letters)
            if len(word) >= 6:
                union = (
                    min(b[0] for _, b in letters),
                    min(b[1] for _, b in letters),
                    max(b[2] for _, b in letters),
                    max(b[3] for _, b in letters),
                )
                x0, y0, x1, y1 = device_box(page, union, size=drawing.size)
                margin = (y1 - y0) // 3
                crop = drawing.crop((x0 - margin, y0, x1 + margin, y1))
                found.append((number, word, read_word(ImageOps.expand(crop, 20, fill=255))))
    return found


@worker_db
def test_a_scanned_pdf_comes_back_about_its_own_size_with_its_words_where_they_are(
    user, client_for, api_upload, run_worker
):
    data = scan_with_turned_pages()
    response = api_upload(client_for(user), upload_file(data, "scan.pdf"))
    assert response.status_code == 201, response.content
    run_worker()
    task = OcrTask.objects.get(pk=response.json()[0]["id"])
    assert task.status == Status.COMPLETED, task.error
    turned = {page.index: (page.rotation, page.skew) for page in task.pages.all()}
    assert turned[2][0] == 270 and turned[1][1] and turned[2][1], turned

    with task.searchable_pdf.open("rb") as stored:
        output = stored.read()
    # The scan's noisy lossless grey images become grey JPEGs, unstraightened, under the text.
    assert len(output) <= 0.8 * len(data), (len(output), len(data))
    document = pdfium.PdfDocument(output)
    # The page read after a quarter turn is shown upright, the others as scanned.
    assert [page.get_rotation() for page in document] == [0, 0, 270]
    with pikepdf.open(io.BytesIO(output)) as pdf, pikepdf.open(io.BytesIO(data)) as scan:
        kept = [
            (str(image.Filter), str(image.ColorSpace), int(image.Width), int(image.Height))
            for page in pdf.pages
            for image in page.get_images().values()
        ]
        assert kept == [
            ("/DCTDecode", "/DeviceGray", int(image.Width), int(image.Height))
            for page in scan.pages
            for image in page.get_images().values()
        ]

    readings = words_read_back(output)
    for number in range(3):
        on_page = [(word, read) for page, word, read in readings if page == number]
        assert len(on_page) >= 10, (number, on_page)
        landed = [
            word
            for word, read in on_page
            if word.lower() in read.lower()
            or character_error_rate(expected=word.lower(), actual=read.lower()) <= 0.34
        ]
        # Most words are read back from the drawing where the text layer puts them
        # (a noisy cut-out of one word is misread now and then).
        assert len(landed) >= 0.7 * len(on_page), (number, on_page)


def test_the_words_a_page_image_does_not_hold_are_not_read_back():
    # The check above can fail: text placed on a blank page reads back as nothing.
    document = pdfium.PdfDocument.new()
    page = document.new_page(612, 792)
    text = pdfium_c.FPDFPageObj_NewTextObj(document, b"Helvetica", 20.0)
    encoded = "harbour lantern budget".encode("utf-16-le") + b"\0\0"
    buffer = (ctypes.c_ushort * (len(encoded) // 2)).from_buffer_copy(encoded)
    pdfium_c.FPDFText_SetText(text, buffer)
    pdfium_c.FPDFTextObj_SetTextRenderMode(text, pdfium_c.FPDF_TEXTRENDERMODE_INVISIBLE)
    pdfium_c.FPDFPageObj_Transform(text, 1, 0, 0, 1, 100, 600)
    pdfium_c.FPDFPage_InsertObject(page, text)
    page.gen_content()
    output = io.BytesIO()
    document.save(output)
    readings = words_read_back(output.getvalue())
    assert [word for _, word, _ in readings] == ["harbour", "lantern", "budget"]
    assert all(not read for _, _, read in readings), readings


@worker_db
def test_a_jpeg_upload_is_embedded_as_it_is_under_its_text(
    user, client_for, api_upload, run_worker
):
    image, _ = upright_page(seed=2500, font="DejaVu Serif", dpi=300)
    buffer = io.BytesIO()
    noisy(skewed(image, -2.0), seed=7).save(buffer, format="JPEG", quality=80, dpi=(300, 300))
    data = buffer.getvalue()
    response = api_upload(client_for(user), upload_file(data, "scan.jpg"))
    assert response.status_code == 201, response.content
    run_worker()
    task = OcrTask.objects.get(pk=response.json()[0]["id"])
    assert task.status == Status.COMPLETED, task.error
    assert task.pages.get().skew

    with task.searchable_pdf.open("rb") as stored:
        output = stored.read()
    assert len(output) <= 1.05 * len(data), (len(output), len(data))
    [page] = pdfium.PdfDocument(output)
    [picture] = page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE])
    # DCTDecode passthrough: the stream is the uploaded file itself.
    assert bytes(picture.get_data(decode_simple=False)) == data
    on_page = [(word, read) for _, word, read in words_read_back(output)]
    landed = [word for word, read in on_page if word.lower() in read.lower()]
    assert len(on_page) >= 10 and len(landed) >= 0.7 * len(on_page), on_page


def completed_output(data: bytes, name: str, *, user, client_for, api_upload, run_worker):
    response = api_upload(client_for(user), upload_file(data, name))
    assert response.status_code == 201, response.content
    run_worker()
    task = OcrTask.objects.get(pk=response.json()[0]["id"])
    assert task.status == Status.COMPLETED, task.error
    with task.searchable_pdf.open("rb") as stored:
        return task, stored.read()


def image_streams(data: bytes) -> list[tuple[str, int, bytes]]:
    """Return each page image's (filter, bits per component, raw stream)."""
    with pikepdf.open(io.BytesIO(data)) as pdf:
        return [
            (str(image.get("/Filter")), int(image.BitsPerComponent), image.read_raw_bytes())
            for page in pdf.pages
            for image in page.get_images().values()
        ]


@worker_db
@pytest.mark.parametrize("encoding", ["jpeg-grey", "jpeg-colour", "bitonal"])
def test_each_kind_of_scan_keeps_its_kind_and_size_and_stays_searchable(
    encoding, user, client_for, api_upload, run_worker
):
    image, text = upright_page(seed=2700, font="DejaVu Sans", dpi=300)
    data = scan_pdf_bytes([(noisy(skewed(image, 1.0), seed=5), *PAGE_INCHES)], encoding=encoding)
    _, output = completed_output(
        data,
        "scan.pdf",
        user=user,
        client_for=client_for,
        api_upload=api_upload,
        run_worker=run_worker,
    )
    assert len(output) <= 1.05 * len(data), (len(output), len(data))
    [(kind, bits, stream)] = image_streams(output)
    [(_, source_bits, source_stream)] = image_streams(data)
    if encoding.startswith("jpeg"):
        # A straight page's JPEG is the scan's own stream, byte for byte.
        assert stream == source_stream
    else:
        assert bits == source_bits == 1 and kind in ("/CCITTFaxDecode", "/FlateDecode")
    [page] = pdfium.PdfDocument(output)
    found = page.get_textpage().get_text_bounded().lower()
    expected = [word for word in text.lower().split() if len(word) >= 6]
    assert sum(word in found for word in expected) >= 0.7 * len(expected), found


@worker_db
def test_a_turned_bitonal_image_upload_is_redrawn_upright_and_stays_bitonal(
    user, client_for, api_upload, run_worker
):
    image, text = upright_page(seed=2800, font="DejaVu Serif", dpi=300)
    bitonal = rotated(image, 1).point(lambda v: 255 if v >= 128 else 0).convert("1")
    buffer = io.BytesIO()
    bitonal.save(buffer, format="PNG", dpi=(300, 300))
    data = buffer.getvalue()
    task, output = completed_output(
        data,
        "scan.png",
        user=user,
        client_for=client_for,
        api_upload=api_upload,
        run_worker=run_worker,
    )
    assert task.pages.get().rotation in (90, 270)
    [(kind, bits, stream)] = image_streams(output)
    # The image is no larger than the upload; this 27 kB page's text layer (its words as
    # positioned text) takes a fixed few kB more, which a real scan's 1.05x easily holds.
    assert len(stream) <= len(data), (len(stream), len(data), kind)
    assert len(output) <= 1.05 * len(data) + 4096, (len(output), len(data))
    assert bits == 1 and kind in ("/CCITTFaxDecode", "/FlateDecode"), kind
    [page] = pdfium.PdfDocument(output)
    found = page.get_textpage().get_text_bounded().lower()
    expected = [word for word in text.lower().split() if len(word) >= 6]
    assert sum(word in found for word in expected) >= 0.7 * len(expected), found
