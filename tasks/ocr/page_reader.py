"""Read the pages of one document in up to N processes, and hand the results back in order.

A pool child gets a small picklable `PageJob` (the local copy's path, the page index, the
limits, the engine's name and language) and opens the document itself: no page image
crosses the pipe towards the child. It draws the page (a PDF page through the render
child of tasks.ocr.render, under the same time and memory limits as before), sets it
upright, reads it, and sends back a `PageRead`: the text and boxes, and the straightened
page as JPEG bytes only when it was turned or deskewed (the parent stores that image).
The caller does every database write; this module touches no Django model.

The pool uses the forkserver start method, never fork: the worker holds database
connections and a heartbeat thread that a forked child must not inherit.
"""

import contextlib
import ctypes
import io
import multiprocessing
import multiprocessing.forkserver
import os
import signal
import time
from collections.abc import Callable, Generator, Iterable, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field

from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from django_stubs_ext import StrOrPromise
from PIL import Image

from tasks.ocr.detect import DetectedType
from tasks.ocr.engines import PageResult, get_engine
from tasks.ocr.inspect import DocumentRejected
from tasks.ocr.orientation import Straightening, read_upright
from tasks.ocr.pages import source_page
from tasks.ocr.render import PR_SET_PDEATHSIG, RenderLimits
from tasks.ocr.resolution import PdfResolution
from tasks.ocr.text_layer_check import TextLayerPolicy

# The stored page image: what the preview and the searchable PDF show.
PAGE_IMAGE_QUALITY = 90

NOTHING_READ = PageResult(text="", confidence=None)
# Pages submitted ahead of the one handed back next, per process (read_pages).
_AHEAD = 2


@dataclass(frozen=True, kw_only=True)
class PageJob:
    """What a child needs to read one page; small, so the pipe to the child stays small."""

    path: str
    kind: DetectedType
    index: int
    resolution: PdfResolution
    limits: RenderLimits
    engine: str
    language: str
    force_ocr: bool = False
    # Work the output needs of a PDF page read by OCR, done here while the cores are busy
    # with pages anyway (tasks.pdf.prepared_images): called with (path, index), picklable.
    prepare_output: Callable[[str, int], Mapping[str, object]] | None = None
    # A fault hook for tests (settings.OCR_PAGE_CHILD_EXIT_ON): the child reading this
    # page dies with os._exit, as a segfaulting engine would.
    exit_on_page: int | None = None


@dataclass(frozen=True, kw_only=True)
class PageRead:
    """One page's result without its image, unless the page was turned or straightened."""

    index: int
    result: PageResult
    size: tuple[int, int]
    dpi: int | None = None
    note: str = ""
    text_layer_note: str = ""
    straightening: Straightening = field(default_factory=Straightening)
    # Whether an engine read the page (False: its text layer was kept, or it was unread).
    ocred: bool = False
    seconds: float = 0.0
    # JPEG of the page as it was read, when that differs from the page as uploaded.
    image_jpeg: bytes = b""
    # What the job's prepare_output returned for the page (empty when it has none).
    prepared: Mapping[str, object] = field(default_factory=dict)
    # (message, code) of a DocumentRejected: the exception itself does not pickle.
    rejected: tuple[StrOrPromise, str] | None = None


class PageReaderDied(Exception):
    """A child reading pages exited without an answer (killed, out of memory, a crash)."""


def encode_page_image(image: Image.Image) -> bytes:
    """Return the page as the JPEG that is stored for it, at the dpi it was read at."""
    buffer = io.BytesIO()
    picture = image if image.mode in ("L", "RGB") else image.convert("RGB")
    dpi = image.info.get("dpi")
    options = {"dpi": tuple(round(float(v)) for v in dpi)} if dpi else {}
    picture.save(buffer, format="JPEG", quality=PAGE_IMAGE_QUALITY, **options)
    return buffer.getvalue()


def read_page_job(job: PageJob) -> PageRead:
    """Draw, straighten and read one page; run in a pool child (or inline for one process)."""
    if job.exit_on_page == job.index:
        os._exit(70)
    engine = get_engine(job.engine)  # cached per process: one Tesseract API per language

    def read(image: Image.Image) -> PageResult:
        return engine.recognize(image, language=job.language)

    policy = TextLayerPolicy(
        force_ocr=job.force_ocr,
        languages=(job.language,),
        read_sample=lambda image: read(image).text,
    )
    try:
        page = source_page(
            path=job.path,
            kind=job.kind,
            index=job.index,
            resolution=job.resolution,
            text_policy=policy,
            limits=job.limits,
        )
    except DocumentRejected as rejected:
        return PageRead(
            index=job.index,
            result=NOTHING_READ,
            size=(0, 0),
            rejected=(rejected.message, rejected.code),
        )
    if page.image is None:  # its text layer, or a page too large to read
        return PageRead(
            index=job.index,
            result=page.text_layer or NOTHING_READ,
            size=page.size,
            dpi=page.dpi,
            note=page.note,
            text_layer_note=page.text_layer_note,
        )
    started = time.perf_counter()
    image, straightening, result = read_upright(page.image, read=read)
    # The preview and the PDF must show the page as it was read, or the boxes miss.
    data = encode_page_image(image) if straightening.changed else b""
    seconds = time.perf_counter() - started  # the reading's, not the output's
    prepared = (
        job.prepare_output(job.path, job.index) if job.prepare_output and job.kind.is_pdf else {}
    )
    return PageRead(
        index=job.index,
        result=result,
        size=image.size,
        dpi=page.dpi,
        note=page.note,
        text_layer_note=page.text_layer_note,
        straightening=straightening,
        ocred=True,
        seconds=seconds,
        image_jpeg=data,
        prepared=prepared,
    )


def _child_start() -> None:
    # Linux: die with the worker, so a SIGKILLed worker leaves no child reading on.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    # The worker's SIGINT/SIGTERM handling is the parent's; a child just ends with it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _died(index: int) -> PageReaderDied:
    message = format_lazy(
        _("The process reading page {number} stopped without a result (it crashed or was killed)."),
        number=index + 1,
    )
    return PageReaderDied(message)


def _checked(read: PageRead) -> PageRead:
    if read.rejected is not None:
        raise DocumentRejected(*read.rejected)
    return read


def read_pages(jobs: Iterable[PageJob], *, processes: int) -> Generator[PageRead]:
    """Yield each job's PageRead in the order of `jobs`, reading up to `processes` at once.

    At most twice `processes` pages are submitted and not yet yielded, so memory stays
    bounded however long the document: each page's image lives in one child, and only
    while it is read (a page read ahead waits as its small PageRead). Twice, so that a
    child that finishes a page while an earlier one is still being read goes on to the
    next page instead of waiting for the earlier one to be handed back. Closing the
    generator (the task was deleted, the worker stops) cancels the pages not started and
    waits for the ones being read. A child that dies fails with PageReaderDied naming the
    page; a page refused (too slow to draw) raises its DocumentRejected here, in the caller.
    """
    if processes <= 1:
        # One process: the worker reads the pages itself, as before there was a pool.
        for job in jobs:
            yield _checked(read_page_job(job))
        return
    queue = iter(jobs)
    pending: list[tuple[PageJob, Future[PageRead]]] = []
    pool = _new_pool(processes)
    try:
        while True:
            while len(pending) < _AHEAD * processes and (queued := next(queue, None)) is not None:
                pending.append((queued, _submit(pool, queued)))
            if not pending:
                return
            job, future = pending.pop(0)
            try:
                read = future.result()
            except BrokenProcessPool:
                # A dying child breaks the whole pool, and every page in flight fails
                # alike: which page killed it is not known. So each of them is read
                # again alone; the one whose child dies again is the one named, and
                # the pages that only shared its pool are read after all.
                in_flight = [(job, future), *pending]
                pending = []
                pool.shutdown(wait=True, cancel_futures=True)
                for again, earlier in in_flight:
                    yield _checked(_finished(earlier) or _read_alone(again))
                pool = _new_pool(processes)
                continue
            yield _checked(read)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _submit(pool: ProcessPoolExecutor, job: PageJob) -> Future[PageRead]:
    """Return the future of `job` read in `pool`; a pool already broken gives a failed one."""
    try:
        return pool.submit(read_page_job, job)
    except BrokenProcessPool as broken:
        # A child died between two submissions (the dying page's result not yet asked
        # for): this page goes with those in flight, each read again alone.
        failed: Future[PageRead] = Future()
        failed.set_exception(broken)
        return failed


def start_reader_server(processes: int) -> None:
    """Start the fork server the page readers come from, if there are to be any (processes > 1).

    Called as a worker starts: the server imports the OCR modules and loads Tesseract's
    default language in the background (it started with a worker's first task and made
    that task's first pages wait about 0.6 s for it). Returns at once; a pool made later
    uses the same server.
    """
    if processes > 1:
        _reader_context()
        multiprocessing.forkserver.ensure_running()


def _reader_context() -> multiprocessing.context.ForkServerContext:
    context = multiprocessing.get_context("forkserver")
    # The fork server imports this module (numpy, Pillow, PDFium, tesserocr) once, and each
    # child forked from it starts with them loaded: importing them took a child 0.42 s of
    # CPU, twice per task with two processes. It only takes effect before the server starts.
    # It loads Tesseract's default language too (tasks.ocr.engine_preload).
    context.set_forkserver_preload(["__main__", __name__, "tasks.ocr.engine_preload"])
    return context


def _new_pool(processes: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(
        max_workers=processes, mp_context=_reader_context(), initializer=_child_start
    )


def _finished(future: Future[PageRead]) -> PageRead | None:
    """Return a future's result if it came back before its pool broke, else None."""
    if future.done() and not future.cancelled() and future.exception() is None:
        return future.result()
    return None


def _read_alone(job: PageJob) -> PageRead:
    """Read one page in a child of its own, so a death is this page's."""
    with _new_pool(1) as alone:
        try:
            return alone.submit(read_page_job, job).result()
        except BrokenProcessPool as broken:
            raise _died(job.index) from broken
