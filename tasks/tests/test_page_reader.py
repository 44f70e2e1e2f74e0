"""A task's pages read in several processes: same results, in order, resumable, crash-safe."""

import pytest
from django.core.checks import run_checks
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models.signals import post_save

from tasks.models import OcrPage, OcrTask, Status

from . import samples
from .samples import words_in
from .scan_corpus import rotated

worker_db = pytest.mark.django_db(transaction=True)

PAGE_WORDS = [
    samples.KNOWN_WORDS,
    samples.SECOND_PAGE_WORDS,
    ["orchard", "violin", "granite", "1642"],
    ["harbour", "lantern", "meadow", "2718"],
]


def four_page_pdf() -> SimpleUploadedFile:
    images = [samples.make_text_image(words) for words in PAGE_WORDS]
    # One page upside down: its straightened image comes back from the child as JPEG.
    images[2] = rotated(images[2], 2)
    return SimpleUploadedFile(
        "four.pdf", samples.image_pdf_bytes(images), content_type="application/pdf"
    )


def stored_pages(task: OcrTask) -> list[tuple]:
    return list(
        task.pages.order_by("index").values_list("index", "text", "rotation", "width", "height")
    )


@pytest.fixture
def progress():
    """Record the task's pages_done as each page row is written, in the same transaction."""
    seen: list[tuple[int, int]] = []

    def record(sender, instance: OcrPage, **kwargs) -> None:
        done = OcrTask.objects.values_list("pages_done", flat=True).get(pk=instance.task_id)
        seen.append((instance.index, done))

    post_save.connect(record, sender=OcrPage, dispatch_uid="test-page-progress")
    yield seen
    post_save.disconnect(sender=OcrPage, dispatch_uid="test-page-progress")


@worker_db
def test_two_processes_store_the_same_pages_in_the_same_order_as_one(
    settings, user, make_task, processed, progress
):
    settings.OCR_PAGE_PROCESSES = 1
    alone = processed(make_task(user, four_page_pdf()))
    progress_alone = list(progress)
    progress.clear()
    settings.OCR_PAGE_PROCESSES = 2
    pair = processed(make_task(user, four_page_pdf()))

    assert (alone.status, pair.status) == (Status.COMPLETED, Status.COMPLETED)
    assert stored_pages(pair) == stored_pages(alone)
    assert pair.result_text == alone.result_text
    for (_, text, _, _, _), words in zip(stored_pages(pair), PAGE_WORDS, strict=True):
        assert set(words[:3]) <= words_in(text)
    # The turned page was stored as it was read, by the parent, from the child's JPEG.
    turned = pair.pages.get(index=2)
    assert turned.rotation == 180 and default_storage.exists(turned.image.name)
    # pages_done moves one page at a time, each page at its own index, in both modes.
    assert progress == progress_alone == [(0, 1), (1, 2), (2, 3), (3, 4)]


@worker_db
def test_resumed_task_reads_only_the_pages_not_stored(
    settings, user, make_task, processed, progress
):
    settings.OCR_PAGE_PROCESSES = 2
    task = make_task(user, four_page_pdf())
    # An earlier attempt stored the first page; its text proves it is not read again.
    OcrPage.objects.create(task=task, index=0, text="kept", source="ocr", attempt=0)
    OcrTask.objects.filter(pk=task.pk).update(pages_done=1)
    progress.clear()

    task = processed(task)

    assert task.status == Status.COMPLETED
    assert [index for index, _ in progress] == [1, 2, 3]
    assert [done for _, done in progress] == [2, 3, 4]
    assert task.pages.get(index=0).text == "kept"
    assert task.result_text.split("\f")[0] == "kept"
    assert set(PAGE_WORDS[3][:3]) <= words_in(task.pages.get(index=3).text)


@worker_db
def test_a_child_that_dies_fails_the_task_with_a_message_and_stores_no_half_page(
    settings, user, make_task, processed
):
    settings.OCR_PAGE_PROCESSES = 2
    settings.OCR_PAGE_CHILD_EXIT_ON = 2  # the upside-down page: it would store an image

    task = processed(make_task(user, four_page_pdf()))

    assert task.status == Status.FAILED
    assert task.error == (
        "The process reading page 3 stopped without a result (it crashed or was killed)."
    )
    assert task.result_text == ""
    # The pages before the dead one are stored whole, page 2 included though it shared the
    # broken pool with page 3 (it is read again alone); nothing of page 3 or after.
    indexes = list(task.pages.order_by("index").values_list("index", flat=True))
    assert indexes == [0, 1]
    assert task.pages_done == 2
    assert not default_storage.exists(f"derived/{task.pk}/page-0003.jpg")


# Database access: the system checks include the models', and JSONField's asks the
# backend what it supports (run alone, no earlier test has cached that answer).
@pytest.mark.django_db
@pytest.mark.parametrize("value", [0, -1])
def test_fewer_than_one_page_process_is_refused_at_start_up(settings, value):
    settings.OCR_PAGE_PROCESSES = value
    assert "tasks.E005" in {error.id for error in run_checks()}


def test_pool_children_start_with_the_default_language_loaded():
    from tasks.ocr.page_reader import _new_pool

    from .pool_probe import loaded_languages

    with _new_pool(2) as pool:
        loaded = list(pool.map(loaded_languages, range(2)))

    # Loaded once in the fork server, not by each child before its first page.
    assert loaded == [("eng",), ("eng",)]


_SERVER_CHILDREN = """
import os, sys, time
from tasks.ocr.page_reader import start_reader_server
start_reader_server(int(sys.argv[1]))
time.sleep(0.5)
me = str(os.getpid())
for entry in os.listdir("/proc"):
    if not entry.isdigit():
        continue
    try:
        with open(f"/proc/{entry}/stat") as stat:
            parent = stat.read().rsplit(")", 1)[1].split()[1]
        with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
            command = cmdline.read().replace(b"\\0", b" ").decode()
    except OSError:
        continue
    if parent == me:
        print(command)
"""


@pytest.mark.parametrize(("processes", "servers"), [(1, 0), (2, 1)])
def test_a_worker_starts_the_page_readers_server_before_its_first_task(processes, servers):
    """ocr_worker calls start_reader_server at start: with page processes it runs a fork server."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    # A fresh interpreter: this one may already hold a fork server from other tests.
    children = subprocess.run(
        [sys.executable, "-c", _SERVER_CHILDREN, str(processes)],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.splitlines()
    assert sum("multiprocessing.forkserver" in child for child in children) == servers, children


def test_the_worker_command_starts_the_page_readers_server(settings, monkeypatch):
    from tasks.management.commands import ocr_worker

    started: list[int] = []
    monkeypatch.setattr(ocr_worker, "start_reader_server", started.append)
    monkeypatch.setattr(ocr_worker, "reclaim_stale_tasks", _stop_here)
    settings.OCR_PAGE_PROCESSES = 3
    with pytest.raises(_Stopped):
        ocr_worker.Command().handle(reload=False, batch=True)
    assert started == [3]


class _Stopped(Exception):
    pass


def _stop_here():
    raise _Stopped
