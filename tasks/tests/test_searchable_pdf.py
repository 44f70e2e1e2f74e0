"""Searchable PDF downloads: page images under an invisible text layer at the OCR boxes."""

import io
from dataclasses import dataclass

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.test import Client

from tasks.models import OcrPage, OcrTask, Status
from tasks.pdf.searchable import store_searchable_pdf
from tasks.pdf.text_layer import place_lines

from . import samples
from .conftest import API_TASKS, upload_file
from .samples import KNOWN_WORDS, SECOND_PAGE_WORDS, words_in

worker_db = pytest.mark.django_db(transaction=True)
# How far (in points) a character of the text layer may stray from its OCR line box.
TOLERANCE_PT = 1.0


@dataclass(frozen=True)
class PdfPageText:
    """What a PDF reader finds on one page: its size, its text and each character's box."""

    size: tuple[float, float]
    text: str
    boxes: list[tuple[float, float, float, float]]
    invisible: bool

    def box_of(self, fragment: str) -> tuple[float, float, float, float]:
        """Return the union of the loose boxes of the characters of `fragment`."""
        start = self.text.index(fragment)
        chosen = [
            self.boxes[i] for i in range(start, start + len(fragment)) if not self.text[i].isspace()
        ]
        return (
            min(b[0] for b in chosen),
            min(b[1] for b in chosen),
            max(b[2] for b in chosen),
            max(b[3] for b in chosen),
        )


def read_pdf(data: bytes) -> list[PdfPageText]:
    """Extract every page's text and character boxes with PDFium, as a viewer would."""
    document = pdfium.PdfDocument(data)
    pages = []
    try:
        for page in document:
            textpage = page.get_textpage()
            count = textpage.count_chars()
            text = textpage.get_text_range()
            boxes = [textpage.get_charbox(i, loose=True) for i in range(count)]
            modes = {
                pdfium_c.FPDFTextObj_GetTextRenderMode(obj)
                for obj in page.get_objects()
                if obj.type == pdfium_c.FPDF_PAGEOBJ_TEXT
            }
            pages.append(
                PdfPageText(
                    size=page.get_size(),
                    text=text,
                    boxes=boxes,
                    invisible=modes == {pdfium_c.FPDF_TEXTRENDERMODE_INVISIBLE},
                )
            )
            textpage.close()
            page.close()
    finally:
        document.close()
    return pages


def expected_box(page: OcrPage, box: list[int], size: tuple[float, float]):
    """Return an OCR pixel box as (left, bottom, right, top) points on a page of `size`."""
    scale_x, scale_y = size[0] / page.width, size[1] / page.height
    x0, y0, x1, y1 = box
    return (x0 * scale_x, size[1] - y1 * scale_y, x1 * scale_x, size[1] - y0 * scale_y)


def assert_lines_placed(ocr_page: OcrPage, pdf_page: PdfPageText) -> None:
    """Assert each OCR line is in the text layer, covering its box scaled to the page."""
    assert ocr_page.lines, "the OCR found lines to place"
    for line in ocr_page.lines:
        found = pdf_page.box_of(line["text"].strip())
        wanted = expected_box(ocr_page, line["box"], pdf_page.size)
        assert found == pytest.approx(wanted, abs=TOLERANCE_PT), line["text"]


@pytest.fixture
def upload_and_run(user, client_for, api_upload, run_worker):
    """Upload one document through the API, run the real worker, return the stored task."""

    def run(data: bytes, name: str, **fields) -> OcrTask:
        response = api_upload(client_for(user), upload_file(data, name), **fields)
        assert response.status_code == 201, response.content
        run_worker()
        task = OcrTask.objects.get(pk=response.json()[0]["id"])
        assert (task.status, task.error) == (Status.COMPLETED, "")
        return task

    return run


def download(client: Client, task: OcrTask) -> bytes:
    response = client.get(f"/tasks/{task.pk}/download.pdf")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    return response.getvalue()


@worker_db
@pytest.mark.parametrize("engine", ["tesseract", "rapidocr"])
def test_image_download_has_the_words_where_the_ocr_found_them(
    upload_and_run, user, client_for, engine
):
    image = samples.make_text_image(KNOWN_WORDS)
    task = upload_and_run(
        samples.encode_image(image, format="PNG"),
        "receipt.png",
        engine=engine,
        language=samples.ENGLISH[engine],
    )

    response = client_for(user).get(f"/tasks/{task.pk}/download.pdf")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="receipt-searchable.pdf"'
    [pdf_page] = read_pdf(b"".join(response.streaming_content))
    assert set(KNOWN_WORDS) <= words_in(pdf_page.text)
    assert pdf_page.invisible, "the text layer is never painted over the image"
    # A PNG that records no resolution is laid out at 150 dpi.
    assert pdf_page.size == pytest.approx((1200 * 72 / 150, 300 * 72 / 150))
    assert_lines_placed(task.pages.get(), pdf_page)


@worker_db
def test_two_page_scan_keeps_each_pages_words_on_its_page(upload_and_run, user, client_for):
    scan = samples.image_pdf_bytes(
        [samples.make_text_image(KNOWN_WORDS), samples.make_text_image(SECOND_PAGE_WORDS)],
        dpi=150,
    )
    task = upload_and_run(scan, "scan.pdf")

    response = client_for(user).get(f"{API_TASKS}/{task.pk}/result?format=pdf")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="scan-searchable.pdf"'
    first, second = read_pdf(b"".join(response.streaming_content))
    assert set(KNOWN_WORDS) <= words_in(first.text)
    assert not set(SECOND_PAGE_WORDS) & words_in(first.text)
    assert set(SECOND_PAGE_WORDS) <= words_in(second.text)
    assert not set(KNOWN_WORDS) & words_in(second.text)
    # Same page size as the scan, whatever resolution the page image is rendered at.
    assert first.size == pytest.approx((1200 * 72 / 150, 300 * 72 / 150), abs=0.5)
    ocr_first, ocr_second = task.pages.order_by("index")
    assert_lines_placed(ocr_first, first)
    assert_lines_placed(ocr_second, second)


@worker_db
@pytest.mark.parametrize("shown", ["under-rotate-90", "sideways-scan"])
def test_quarter_turned_pdf_page_keeps_a_text_layer_a_viewer_can_search(
    upload_and_run, user, client_for, shown
):
    # The page stored sideways: either /Rotate 90 shows it upright, or the scan itself
    # lies sideways and the worker turned it to read it. Its text layer is laid over the
    # page as stored, each line running up the page (a text matrix with a = 0).
    sideways = samples.make_text_image(KNOWN_WORDS).rotate(90, expand=True)
    scan = samples.scan_pdf_bytes([(sideways, 2.0, 8.0)])
    if shown == "under-rotate-90":
        scan = scan.replace(b"/Type /Page /Parent", b"/Type /Page /Rotate 90 /Parent", 1)
    task = upload_and_run(scan, "turned.pdf")

    [pdf_page] = read_pdf(download(client_for(user), task))

    assert set(KNOWN_WORDS) <= words_in(pdf_page.text)


@worker_db
def test_multi_frame_tiff_becomes_one_pdf_page_per_frame(upload_and_run, user, client_for):
    frames = [samples.make_text_image(KNOWN_WORDS), samples.make_text_image(SECOND_PAGE_WORDS)]
    task = upload_and_run(samples.multipage_tiff_bytes(frames), "fax.tiff")

    first, second = read_pdf(download(client_for(user), task))

    assert set(KNOWN_WORDS) <= words_in(first.text)
    assert set(SECOND_PAGE_WORDS) <= words_in(second.text)
    assert first.invisible and second.invisible


@worker_db
def test_born_digital_pages_are_copied_with_their_own_text(upload_and_run, user, client_for):
    task = upload_and_run(
        samples.text_pdf_bytes([samples.TEXT_LAYER_LINES, samples.TEXT_LAYER_LINES[:1] * 3]),
        "report.pdf",
    )
    assert {page.source for page in task.pages.all()} == {"text_layer"}

    first, second = read_pdf(download(client_for(user), task))

    assert first.text.split("\r\n") == samples.TEXT_LAYER_LINES
    assert second.text.split("\r\n") == samples.TEXT_LAYER_LINES[:1] * 3
    assert first.size == pytest.approx((612, 792))
    # The original's own visible text, not a second invisible copy over it.
    assert not first.invisible
    assert first.text.count("harbour") == 1


@pytest.mark.django_db
def test_chinese_text_survives_into_the_text_layer(user, make_task):
    # Lines as RapidOCR stores them for a Chinese page (no CJK font here to draw one).
    task = make_task(user)
    lines = [
        {"text": "增值税发票 No.2024", "confidence": 0.98, "box": [40, 40, 520, 90]},
        # A full-width colon, as Chinese text is punctuated.
        {"text": "金额：¥1,280.00 合计", "confidence": 0.95, "box": [40, 150, 700, 210]},  # noqa: RUF001
    ]
    OcrPage.objects.create(
        task=task,
        index=0,
        text="\n".join(line["text"] for line in lines),
        source="ocr",
        lines=lines,
        width=1200,
        height=300,
    )
    OcrTask.objects.filter(pk=task.pk).update(status=Status.COMPLETED, pages_done=1)
    task.refresh_from_db()

    # As the worker builds it after the last page.
    with default_storage.open(store_searchable_pdf(task=task)) as stored:
        [pdf_page] = read_pdf(stored.read())

    assert pdf_page.text.split("\r\n") == [line["text"] for line in lines]
    assert_lines_placed(task.pages.get(), pdf_page)


@pytest.mark.django_db
def test_lines_are_mapped_from_pixels_to_points_and_junk_is_skipped(user, make_task_row):
    task = make_task_row(user)
    page = OcrPage(
        task=task,
        index=0,
        source="ocr",
        width=2000,
        height=1000,
        lines=[
            {"text": "kept", "confidence": 0.9, "box": [100, 200, 500, 300]},
            {"text": "  ", "confidence": 0.9, "box": [0, 0, 10, 10]},
            {"text": "no area", "confidence": 0.9, "box": [10, 10, 10, 40]},
            {"text": "no box", "confidence": 0.9},
            "not a line",
            {"text": "past the edge", "confidence": 0.9, "box": [1900, 900, 2500, 1200]},
        ],
    )

    placed = place_lines(page, page_size=(200.0, 100.0))

    assert [line.text for line in placed] == ["kept", "past the edge"]
    kept, clipped = placed
    assert (kept.left, kept.bottom, kept.width, kept.height) == pytest.approx((10, 70, 40, 10))
    assert (clipped.left, clipped.bottom, clipped.width, clipped.height) == pytest.approx(
        (190, 0, 10, 10)
    )


@pytest.mark.django_db
def test_detail_page_offers_the_searchable_pdf(user, client_for, make_task_row):
    task = make_task_row(user, status=Status.COMPLETED)

    html = client_for(user).get(f"/tasks/{task.pk}/").content.decode()

    assert f'href="/tasks/{task.pk}/download.pdf"' in html
    assert "Download searchable PDF" in html


@pytest.mark.django_db
def test_other_users_task_is_not_found(user, other_user, client_for, make_task, processed):
    task = processed(make_task(other_user))
    assert task.status == Status.COMPLETED
    client = client_for(user)

    page = client.get(f"/tasks/{task.pk}/download.pdf")
    api = client.get(f"{API_TASKS}/{task.pk}/result?format=pdf")

    assert page.status_code == 404
    assert api.status_code == 404
    # Errors asked for as PDF stay readable JSON.
    assert api["Content-Type"] == "application/json"
    assert api.json() == {"detail": "No such task.", "code": "not_found"}


@pytest.mark.django_db
def test_unfinished_task_has_no_pdf(user, client_for, make_task_row):
    task = make_task_row(user, status=Status.PROCESSING)
    client = client_for(user)

    assert client.get(f"/tasks/{task.pk}/download.pdf").status_code == 404
    response = client.get(f"{API_TASKS}/{task.pk}/result?format=pdf")
    assert response.status_code == 404
    assert response.json()["detail"] == "No result yet: the task is processing."


@pytest.mark.django_db
def test_download_serves_the_pdf_the_worker_stored(
    user, client_for, make_task, processed, file_store
):
    task = processed(make_task(user))
    stored = file_store.read(task.searchable_pdf.name)
    # The original is not read again: the PDF was built when the task completed.
    file_store.delete(task.file.name)

    response = client_for(user).get(f"/tasks/{task.pk}/download.pdf")

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == stored


def test_missing_stored_pdf_is_not_found(user, client_for, make_task, processed, file_store):
    task = processed(make_task(user))
    file_store.delete(task.searchable_pdf.name)

    assert client_for(user).get(f"/tasks/{task.pk}/download.pdf").status_code == 404
    assert client_for(user).get(f"{API_TASKS}/{task.pk}/result?format=pdf").status_code == 404


@pytest.mark.django_db
def test_anonymous_is_sent_to_log_in(make_task_row, user):
    task = make_task_row(user, status=Status.COMPLETED)

    page = Client().get(f"/tasks/{task.pk}/download.pdf")
    api = Client().get(f"{API_TASKS}/{task.pk}/result?format=pdf")

    assert page.status_code == 302
    assert page["Location"].startswith("/accounts/login/")
    assert api.status_code == 401


def test_tasks_completed_before_stored_pdfs_get_one_from_the_command(
    user, client_for, make_task, processed, file_store
):
    task = processed(make_task(user))
    file_store.delete(task.searchable_pdf.name)
    OcrTask.objects.filter(pk=task.pk).update(searchable_pdf="")
    client = client_for(user)
    assert client.get(f"/tasks/{task.pk}/download.pdf").status_code == 404
    out = io.StringIO()

    call_command("build_searchable_pdfs", stdout=out)

    assert out.getvalue().strip() == "Built 1 searchable PDF(s); 0 could not be built."
    response = client.get(f"/tasks/{task.pk}/download.pdf")
    assert response.status_code == 200
    assert b"".join(response.streaming_content).startswith(b"%PDF")
