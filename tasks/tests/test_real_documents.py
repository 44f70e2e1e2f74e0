"""Real documents: posters and huge pages, and PDF text layers that lie.

Through the whole pipeline: the API or the upload page, the real worker and Tesseract,
the stored pages and the result JSON a user downloads.
"""

import pytest
from PIL import Image

from tasks.models import OcrTask, PageSource, Status
from tasks.ocr.text_layer_check import swap_bytes

from . import samples
from .conftest import upload_file
from .samples import words_in

PAGE = samples.make_text_image(samples.KNOWN_WORDS)
LINES = [
    "MulticolorBlack printing for the harbour office",
    "Lantern maintenance budget approved in spring",
]

worker_db = pytest.mark.django_db(transaction=True)


@pytest.fixture
def upload_and_run(user, client_for, api_upload, run_worker):
    """Upload one document through the API, run the worker, return the stored task."""

    def run(data: bytes, name: str, **fields) -> OcrTask:
        response = api_upload(client_for(user), upload_file(data, name), **fields)
        assert response.status_code == 201, response.content
        run_worker()
        task = OcrTask.objects.get(pk=response.json()[0]["id"])
        assert (task.status, task.error) == (Status.COMPLETED, "")
        return task

    return run


def result_pages(client, task: OcrTask) -> list[dict]:
    response = client.get(f"/api/v2/tasks/{task.pk}/result?format=json")
    assert response.status_code == 200
    return response.json()["pages"]


@worker_db
def test_poster_with_one_photo_is_accepted_and_read_at_its_own_resolution(
    upload_and_run, user, client_for
):
    # The report: 25 by 50 inches holding one 8.4 MP image was refused as 7501x15001 pixels.
    photo = Image.new("L", (2050, 4100), "white")
    photo.paste(PAGE.convert("L"), (100, 200))
    data = samples.scan_pdf_bytes([(photo, 25, 50)])

    task = upload_and_run(data, "poster.pdf")

    [page] = task.pages.all()
    assert set(samples.KNOWN_WORDS) <= words_in(page.text)
    # The photo is 82 dpi; pages are read at no less than OCR_PDF_MIN_DPI (150).
    assert (page.dpi, page.note) == (150, "")
    # 25 by 50 inches at 150 dpi; PDFium rounds each side up, floating point may add one.
    assert (round(page.width, -1), round(page.height, -1)) == (3750, 7500)
    [result] = result_pages(client_for(user), task)
    assert (result["dpi"], result["note"], result["text_layer"]) == (150, "", "")


@worker_db
def test_one_huge_page_is_read_lower_or_marked_and_the_other_pages_are_read(
    upload_and_run, user, client_for, settings
):
    # Scaled down to stay quick: a 4 MP limit instead of 50. Page 2 is 10 by 10 inches of
    # 300 dpi scan (9 MP), page 4 is 20 by 20 inches (9 MP even at 150 dpi).
    settings.OCR_MAX_PIXELS = 4_000_000
    big = Image.new("L", (3000, 3000), "white")
    big.paste(PAGE.convert("L"), (300, 300))
    huge = Image.new("L", (600, 600), "white")
    small = (PAGE, 8, 2)
    data = samples.scan_pdf_bytes([small, (big, 10, 10), small, (huge, 20, 20), small, small])

    task = upload_and_run(data, "six.pdf")

    assert (task.page_count, task.pages_done) == (6, 6)
    pages = list(task.pages.order_by("index"))
    for index in (0, 1, 2, 4, 5):
        assert set(samples.KNOWN_WORDS) <= words_in(pages[index].text), index
    assert [page.dpi for page in pages] == [150, 200, 150, None, 150, 150]
    assert pages[1].note.startswith("Rendered at 200 dpi, not 300")
    assert pages[3].text == ""
    assert pages[3].note.startswith("Not read: the page is 20\N{MULTIPLICATION SIGN}20 in;")
    results = result_pages(client_for(user), task)
    assert [result["dpi"] for result in results] == [150, 200, 150, None, 150, 150]
    assert results[3]["note"] == pages[3].note
    # The searchable PDF is built too, the unread page drawn small enough to fit.
    assert task.searchable_pdf


@pytest.mark.django_db
def test_pdf_whose_only_page_cannot_be_read_at_all_is_refused(user, client_for, api_upload):
    data = samples.blank_pdf_bytes(page_count=1, media_box=b"0 0 14400 14400")

    response = api_upload(client_for(user), upload_file(data, "huge.pdf"))

    assert response.status_code == 400
    [message] = response.json()["file"]
    assert "Page 1 is 200\N{MULTIPLICATION SIGN}200 in: even at 150 dpi" in message


@worker_db
def test_byte_swapped_text_layer_is_ocred_and_the_result_says_why(upload_and_run, user, client_for):
    data = samples.miscoded_text_pdf_bytes(LINES, target=swap_bytes)

    task = upload_and_run(data, "swapped.pdf")

    [page] = task.pages.all()
    assert page.source == PageSource.OCR
    assert {"multicolorblack", "harbour", "lantern", "budget"} <= words_in(page.text)
    assert page.text_layer.startswith("rejected: byte-swapped UTF-16")
    [result] = result_pages(client_for(user), task)
    assert result["text_layer"] == page.text_layer
    assert result["dpi"] == 300


@worker_db
def test_good_text_layer_is_used(upload_and_run):
    task = upload_and_run(samples.text_pdf_bytes([LINES]), "good.pdf")

    [page] = task.pages.all()
    assert page.source == PageSource.TEXT_LAYER
    assert page.text.splitlines() == LINES
    assert (page.text_layer, page.dpi) == ("used", 300)


@worker_db
def test_ocr_every_page_through_the_api_ignores_a_good_text_layer(upload_and_run, user, client_for):
    task = upload_and_run(samples.text_pdf_bytes([LINES]), "good.pdf", force_ocr="true")

    assert task.force_ocr
    [page] = task.pages.all()
    assert page.source == PageSource.OCR
    assert {"multicolorblack", "harbour", "lantern"} <= words_in(page.text)
    assert page.text_layer == "ignored: OCR of every page was asked for"
    response = client_for(user).get(f"/api/v2/tasks/{task.pk}")
    assert response.json()["force_ocr"] is True


@pytest.mark.django_db
def test_upload_page_offers_ocr_every_page_and_stores_it(page_client):
    form = page_client.get("/tasks/upload/").content.decode()
    assert 'name="force_ocr"' in form
    assert "OCR every page" in form
    assert "Read every page by OCR, even PDF pages that carry their own text." in form

    response = page_client.post(
        "/tasks/upload/",
        {"file": [upload_file(samples.text_pdf_bytes([LINES]), "good.pdf")], "force_ocr": "on"},
    )

    assert response.status_code == 302, response.content
    assert OcrTask.objects.get().force_ocr is True


@pytest.mark.django_db
def test_upload_page_leaves_text_layers_in_use_by_default(page_client):
    page_client.post(
        "/tasks/upload/", {"file": [upload_file(samples.text_pdf_bytes([LINES]), "good.pdf")]}
    )

    assert OcrTask.objects.get().force_ocr is False
