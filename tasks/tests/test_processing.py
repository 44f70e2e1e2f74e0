"""Real OCR through the whole pipeline: API upload, the real worker, the stored result."""

import pytest
from django_tasks_db.models import DBTaskResult

from tasks.models import OcrTask, PageSource, Status

from . import samples
from .conftest import upload_file
from .samples import words_in

PAGE = samples.make_text_image(samples.KNOWN_WORDS)
SECOND_PAGE = samples.make_text_image(samples.SECOND_PAGE_WORDS)
PNG = samples.encode_image(PAGE, format="PNG")

worker_db = pytest.mark.django_db(transaction=True)


@pytest.fixture
def upload_and_run(user, client_for, api_upload, run_worker):
    """Upload one document through the API, run the worker, return the stored task."""

    def run(data: bytes, name: str, **fields) -> OcrTask:
        response = api_upload(client_for(user), upload_file(data, name), **fields)
        assert response.status_code == 201, response.content
        run_worker()
        return OcrTask.objects.get(pk=response.json()[0]["id"])

    return run


@worker_db
@pytest.mark.parametrize(
    ("fields", "engine", "language"),
    [
        ({}, "tesseract", "eng"),
        ({"engine": "rapidocr", "language": "en"}, "rapidocr", "en"),
        ({"engine": "rapidocr", "language": "ch"}, "rapidocr", "ch"),
    ],
    ids=["tesseract-default", "rapidocr-en", "rapidocr-ch"],
)
def test_image_is_read_by_the_chosen_engine(upload_and_run, fields, engine, language):
    task = upload_and_run(PNG, "scan.png", **fields)

    assert (task.status, task.error) == (Status.COMPLETED, "")
    assert (task.engine, task.language) == (engine, language)
    assert (task.page_count, task.pages_done, task.attempts) == (1, 1, 1)
    assert set(samples.KNOWN_WORDS) <= words_in(task.result_text)
    assert task.started_at <= task.finished_at
    [page] = task.pages.all()
    assert (page.index, page.source, (page.width, page.height)) == (0, PageSource.OCR, PAGE.size)
    assert page.text == task.result_text
    assert 50 < page.confidence <= 100
    assert page.lines and all(
        set(line) == {"text", "confidence", "box", "words", "block", "paragraph"}
        for line in page.lines
    )
    line_words = set().union(*(words_in(line["text"]) for line in page.lines))
    assert set(samples.KNOWN_WORDS) <= line_words


@worker_db
def test_jpeg_photo_is_read(upload_and_run):
    task = upload_and_run(samples.encode_image(PAGE, format="JPEG", quality=90), "photo.jpg")

    assert task.status == Status.COMPLETED
    assert set(samples.KNOWN_WORDS) <= words_in(task.result_text)


@worker_db
def test_each_page_of_a_scanned_pdf_is_read(upload_and_run):
    task = upload_and_run(samples.image_pdf_bytes([PAGE, SECOND_PAGE]), "scan.pdf")

    assert task.status == Status.COMPLETED, task.error
    assert (task.page_count, task.pages_done) == (2, 2)
    first, second = task.pages.order_by("index")
    assert (first.source, second.source) == (PageSource.OCR, PageSource.OCR)
    assert set(samples.KNOWN_WORDS) <= words_in(first.text)
    assert set(samples.SECOND_PAGE_WORDS) <= words_in(second.text)
    # Rendered at the pages' own 150 dpi (OCR_PDF_MIN_DPI), not OCR_PDF_DPI: their pixels.
    assert (first.width, first.height, first.dpi) == (1200, 300, 150)
    # Pages are separated by form feeds in the full text.
    assert task.result_text == f"{first.text}\f{second.text}"


@worker_db
def test_born_digital_pdf_is_read_from_its_text_layer(upload_and_run):
    data = samples.text_pdf_bytes([samples.TEXT_LAYER_LINES])

    # rapidocr would garble nothing here: the engine is never asked.
    task = upload_and_run(data, "report.pdf", engine="rapidocr")

    assert task.status == Status.COMPLETED, task.error
    [page] = task.pages.all()
    assert page.source == PageSource.TEXT_LAYER
    assert page.text.splitlines() == samples.TEXT_LAYER_LINES
    assert page.confidence is None
    # Letter at 300 dpi (the height may round up a pixel); line boxes are in these pixels.
    assert (page.width, round(page.height, -1)) == (2550, 3300)
    assert [line["text"] for line in page.lines] == samples.TEXT_LAYER_LINES
    for line in page.lines:
        x0, y0, x1, y1 = line["box"]
        assert 0 <= x0 < x1 <= page.width and 0 <= y0 < y1 <= page.height


@worker_db
def test_each_page_of_a_multipage_tiff_is_read(upload_and_run):
    task = upload_and_run(samples.multipage_tiff_bytes([PAGE, SECOND_PAGE]), "fax.tiff")

    assert task.status == Status.COMPLETED, task.error
    assert (task.content_type, task.page_count, task.pages_done) == ("image/tiff", 2, 2)
    first, second = task.pages.order_by("index")
    assert set(samples.KNOWN_WORDS) <= words_in(first.text)
    assert set(samples.SECOND_PAGE_WORDS) <= words_in(second.text)


@worker_db
def test_file_missing_at_processing_fails_the_task_readably(
    user, make_task, run_worker, file_store
):
    task = make_task(user)
    file_store.delete(task.file.name)

    run_worker()

    task.refresh_from_db()
    assert task.status == Status.FAILED
    assert task.error == "The uploaded file is missing from storage."
    assert (task.result_text, task.pages_done) == ("", 0)
    assert task.finished_at is not None


@worker_db
@pytest.mark.parametrize(
    ("replacement", "error"),
    [
        (b"this is no longer an image", "File is truncated or corrupt"),
        (samples.truncated(PNG), "File is truncated or corrupt"),
    ],
    ids=["garbage", "truncated"],
)
def test_file_corrupted_after_upload_fails_the_task_readably(
    user, make_task, run_worker, file_store, replacement, error
):
    task = make_task(user)
    file_store.write(task.file.name, replacement)

    run_worker()

    task.refresh_from_db()
    assert task.status == Status.FAILED
    assert task.error.startswith(error)
    assert not task.pages.exists()


@worker_db
def test_pdf_corrupted_after_upload_fails_the_task_readably(
    user, make_task, run_worker, file_store
):
    data = samples.image_pdf_bytes([PAGE, SECOND_PAGE])
    task = make_task(user, upload_file(data, "scan.pdf"))
    file_store.write(task.file.name, samples.truncated(data))

    run_worker()

    task.refresh_from_db()
    assert task.status == Status.FAILED
    assert task.error.startswith("File is truncated or corrupt")


@worker_db
def test_engine_failure_fails_one_task_and_the_worker_goes_on(user, make_task, run_worker):
    broken = make_task(user)
    OcrTask.objects.filter(pk=broken.pk).update(engine="abbyy")
    healthy = make_task(user)

    run_worker()

    broken.refresh_from_db()
    healthy.refresh_from_db()
    assert broken.status == Status.FAILED
    assert broken.error.startswith("OCR failed: UnknownEngine: Unknown OCR engine 'abbyy'")
    assert healthy.status == Status.COMPLETED
    assert set(samples.KNOWN_WORDS) <= words_in(healthy.result_text)
    # The jobs themselves end normally: a failed OCR task is a state, not a crash.
    assert set(DBTaskResult.objects.values_list("status", flat=True)) == {"SUCCESSFUL"}


@worker_db
def test_unreadable_language_fails_the_task_not_the_worker(user, make_task, run_worker):
    task = make_task(user)
    OcrTask.objects.filter(pk=task.pk).update(language="tlh")

    run_worker()

    task.refresh_from_db()
    assert task.status == Status.FAILED
    assert "does not support language 'tlh'" in task.error


@worker_db
def test_unknown_stored_type_fails_the_task_not_the_worker(user, make_task, run_worker):
    task = make_task(user)
    OcrTask.objects.filter(pk=task.pk).update(content_type="text/html")

    run_worker()

    task.refresh_from_db()
    assert task.status == Status.FAILED
    assert task.error == "OCR failed: KeyError: 'text/html'"
    assert set(DBTaskResult.objects.values_list("status", flat=True)) == {"SUCCESSFUL"}


@worker_db
def test_task_deleted_before_the_worker_runs_is_skipped(user, make_task, run_worker):
    task = make_task(user)
    task.delete()

    run_worker()

    assert not OcrTask.objects.exists()
    assert list(DBTaskResult.objects.values_list("status", "return_value")) == [
        ("SUCCESSFUL", "skipped")
    ]


@pytest.mark.django_db
def test_processing_a_finished_task_again_changes_nothing(user, make_task, processed):
    task = processed(make_task(user))
    finished_at = task.finished_at

    again = processed(task)

    assert (again.status, again.finished_at, again.attempts) == (
        Status.COMPLETED,
        finished_at,
        1,
    )
