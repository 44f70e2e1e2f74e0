"""Figure corpus: real scans and phone photos, read by the service beside OCRmyPDF.

The pages of bench/corpus/manifest.toml (fetched by bench/corpus/fetch.py from the
packages that publish them, cached in var/bench-corpus/) are uploaded one document at a
time through the upload service and read by the real worker job, as long-scan-parallel reads its
scan: EXIF turn, straightening, Tesseract, storage, searchable PDF. Beside each, in the
same run, OCRmyPDF 17.13 `-j 2 --rotate-pages --deskew --sidecar` on the same file, from
long-scan-parallel's throwaway venv (var/venv-ocrmypdf). Per file: seconds from file to searchable
PDF for both; the character error rate (CER, tasks/tests/scan_corpus.py's) against the
page's ground truth where the package has one, else against OCRmyPDF's text (how far the
two readings are apart, not which is right); and whether each set the page upright,
where the manifest knows which way up it is. Both texts are kept in
var/bench-corpus/readings/. Both read every page as English, the only
language the service installs, whatever the page's own (the manifest names it).

    .venv/bin/python -m bench.figures.corpus [--quick]   # prints the rows and a table
"""

import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bench.context import Context
    from bench.corpus.fetch import Document, Fetched
    from bench.timing import Row

FIGURE = "corpus"
LANGUAGE = "eng"
# PIL's EXIF orientation values that turn the stored pixels, as clockwise degrees.
EXIF_TURN = {3: 180, 6: 90, 8: 270}


@dataclass(frozen=True)
class Reading:
    text: str
    # Clockwise degrees the reader turned the stored pixels by; None when not known.
    turn: int | None
    seconds: float


def exif_turn(path: Path) -> int:
    from PIL import Image

    with Image.open(path) as image:
        return EXIF_TURN.get(image.getexif().get(0x0112, 1), 0)


def read_ours(item: "Fetched", owner) -> Reading:
    """Return our reading of one document: upload, the worker job, the stored pages."""
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.core.management import call_command

    from tasks.models import OcrTask, Status
    from tasks.services.creation import task_create_batch

    upload = SimpleUploadedFile(item.path.name, item.path.read_bytes())
    started = time.perf_counter()
    [task] = task_create_batch(owner=owner, uploads=[upload], engine="tesseract", language=LANGUAGE)
    call_command("ocr_worker", "--batch", "--no-startup-delay", "--no-reload", verbosity=0)
    seconds = time.perf_counter() - started
    task = OcrTask.objects.get(pk=task.pk)
    assert task.status == Status.COMPLETED, f"{item.document.id}: {task.error}"
    pages = list(task.pages.order_by("index"))
    text = "\n".join(page.text for page in pages)
    # The upload's EXIF turn is applied before the worker's own rotation.
    turn = (exif_turn(item.path) + pages[0].rotation) % 360 if pages else None
    return Reading(text=text, turn=turn, seconds=seconds)


# OCRmyPDF -v 1 says, per page, which way the page's top faces as it stands (any /Rotate
# the image came with included) and what it does: "[with existing rotation ⇨, ]page is
# facing ⇧, confidence 16.11 - rotation appears correct" (or "- will rotate ⬏").
# It turns the pixels themselves, so its output's /Rotate tells nothing; this line does.
FACING = re.compile(r"(?:with existing rotation (\S), )?page is facing (\S), confidence \S+ - (.*)")
ARROWS = {"⇧": 0, "⇨": 90, "⇩": 180, "⇦": 270}


def ocrmypdf_turn(log: str) -> int | None:
    """Return the clockwise turn OCRmyPDF gave the first page, from its -v 1 log."""
    match = FACING.search(log)
    if not match or match.group(2) not in ARROWS:
        return None
    existing = ARROWS.get(match.group(1) or "⇧", 0)
    correction = (360 - ARROWS[match.group(2)]) % 360 if "will rotate" in match.group(3) else 0
    return (existing + correction) % 360


def read_theirs(item: "Fetched", command: str) -> Reading:
    """Return OCRmyPDF's reading: its sidecar text, the turn its log reports, its time."""
    with tempfile.TemporaryDirectory() as folder:
        out, sidecar = Path(folder, "out.pdf"), Path(folder, "out.txt")
        options = ["-j", "2", "--rotate-pages", "--deskew", "--output-type", "pdf", "-v", "1"]
        options += ["-l", LANGUAGE, "--sidecar", str(sidecar)]
        if item.document.image_dpi:
            options += ["--image-dpi", str(item.document.image_dpi)]
        started = time.perf_counter()
        result = subprocess.run(
            [command, *options, str(item.path), str(out)], capture_output=True, text=True
        )
        seconds = time.perf_counter() - started
        if result.returncode != 0:
            raise RuntimeError(f"OCRmyPDF failed on {item.document.id}: {result.stderr[-300:]}")
        return Reading(
            text=sidecar.read_text(encoding="utf-8"),
            turn=ocrmypdf_turn(result.stderr),
            seconds=seconds,
        )


def reference_text(item: "Fetched") -> str | None:
    from bench.corpus.truth import modernised, page_xml_text

    if item.truth_path is not None:
        return modernised(page_xml_text(item.truth_path.read_bytes()))
    transcription = item.document.transcription_path
    return transcription.read_text(encoding="utf-8") if transcription else None


def orientation(reading: Reading | None, document: "Document") -> str:
    if reading is None or document.turn is None or reading.turn is None:
        return "unknown"
    verdict = "right" if reading.turn == document.turn % 360 else "wrong"
    return f"{verdict} ({reading.turn})"


def measure_document(item: "Fetched", *, owner, ocrmypdf: str) -> dict:
    """Return both readings of one document and their CERs."""
    from bench.corpus.fetch import CACHE
    from tasks.tests.scan_corpus import character_error_rate

    ours = read_ours(item, owner)
    theirs = read_theirs(item, ocrmypdf) if ocrmypdf else None
    # Both texts are kept beside the files, for reading what the CER counts.
    readings = CACHE / "readings"
    readings.mkdir(parents=True, exist_ok=True)
    (readings / f"{item.document.id}.ours.txt").write_text(ours.text, encoding="utf-8")
    if theirs:
        (readings / f"{item.document.id}.ocrmypdf.txt").write_text(theirs.text, encoding="utf-8")
    truth = reference_text(item)
    result = {
        "document": item.document,
        "ours": ours,
        "theirs": theirs,
        "truth": truth is not None,
        "cer_ours": None,
        "cer_theirs": None,
        "cer_apart": None,
    }
    if truth is not None:
        result["cer_ours"] = character_error_rate(expected=truth, actual=ours.text)
        if theirs:
            result["cer_theirs"] = character_error_rate(expected=truth, actual=theirs.text)
    if theirs:
        result["cer_apart"] = character_error_rate(expected=theirs.text, actual=ours.text)
    return result


def measure(owner, *, quick: bool) -> tuple[list[dict], str]:
    """Return the results of every document of the corpus, and why OCRmyPDF is missing."""
    from bench.corpus.fetch import fetch, load_manifest
    from bench.figures.long_scan_parallel import ensure_ocrmypdf

    documents = load_manifest()
    if quick:
        # One page of each package: every kind of source, a third of the time.
        firsts: dict[str, Document] = {}
        for document in documents:
            firsts.setdefault(document.package.key, document)
        documents = list(firsts.values())
    items = fetch(documents=documents)
    ocrmypdf, missing = ensure_ocrmypdf()
    results = []
    for item in items:
        result = measure_document(item, owner=owner, ocrmypdf=ocrmypdf)
        results.append(result)
        print(f"[corpus] {summary(result)}", flush=True)
    return results, missing


def _cer(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def summary(result: dict) -> str:
    document, ours, theirs = result["document"], result["ours"], result["theirs"]
    line = f"{document.id}: ours {ours.seconds:.1f} s, orientation {orientation(ours, document)}"
    if result["truth"]:
        line += f", CER {_cer(result['cer_ours'])}"
    if theirs:
        line += (
            f"; OCRmyPDF {theirs.seconds:.1f} s, orientation {orientation(theirs, document)}"
            + (f", CER {_cer(result['cer_theirs'])}" if result["truth"] else "")
            + f"; apart {_cer(result['cer_apart'])}"
        )
    return line


def rows_for(results: list[dict], missing: str, *, backend: str) -> "list[Row]":
    from bench.timing import Row

    rows = []
    for result in results:
        document, ours, theirs = result["document"], result["ours"], result["theirs"]
        upright = orientation(ours, document)
        if result["truth"]:
            value, label = result["cer_ours"], "CER vs ground truth"
            target = "CER <= OCRmyPDF's; upright"
            ok = (result["cer_theirs"] is None or result["cer_ours"] <= result["cer_theirs"]) and (
                not upright.startswith("wrong")
            )
        else:
            value, label = result["cer_apart"], "CER vs OCRmyPDF's text"
            target = "upright" if document.turn is not None else "report"
            ok = None if document.turn is None else not upright.startswith("wrong")
        if theirs:
            versus = (
                f"OCRmyPDF {theirs.seconds:.1f} s ({ours.seconds / theirs.seconds:.2f}x), "
                f"orientation {orientation(theirs, document)}"
                + (f", CER {_cer(result['cer_theirs'])}" if result["truth"] else "")
            )
        else:
            versus = f"OCRmyPDF not measured: {missing}"
        rows.append(
            Row(
                figure=FIGURE,
                backend=backend,
                case=f"{document.id}: {document.title}",
                unit="s",
                p50=ours.seconds,
                value=value,
                value_label=label,
                target=target,
                ok=ok,
                samples=1,
                note=f"ours: orientation {upright}; {versus}; written in {document.language}, "
                f"read as {LANGUAGE}; from {document.package.name} {document.package.version} "
                f"({document.package.licence.split(' ', 1)[0]})",
            )
        )
    return rows


def truth_kind(document: "Document") -> str:
    if document.truth:
        return "PAGE XML (package)"
    return "transcribed (bench/corpus)" if document.transcription else "none"


def table(results: list[dict]) -> str:
    """Return the per-file table: CER, orientation and seconds, ours beside OCRmyPDF's."""
    lines = [
        "| file | ground truth | CER ours | CER OCRmyPDF | CER apart | upright ours "
        "| upright OCRmyPDF | s ours | s OCRmyPDF |",
        "|---|---|---:|---:|---:|---|---|---:|---:|",
    ]
    for result in results:
        document, ours, theirs = result["document"], result["ours"], result["theirs"]
        lines.append(
            f"| {document.id} | {truth_kind(document)} "
            f"| {_cer(result['cer_ours'])} | {_cer(result['cer_theirs'])} "
            f"| {_cer(result['cer_apart'])} | {orientation(ours, document)} "
            f"| {orientation(theirs, document)} | {ours.seconds:.1f} "
            f"| {f'{theirs.seconds:.1f}' if theirs else '-'} |"
        )
    return "\n".join(lines)


def bench_owner():
    from django.contrib.auth import get_user_model

    owner, _ = get_user_model().objects.get_or_create(username="bench-corpus")
    return owner


def run(ctx: "Context") -> None:
    """Figure "corpus": every page of the real-document corpus, ours and OCRmyPDF's."""
    from bench.corpus.fetch import CorpusUnavailable
    from bench.timing import Row

    try:
        results, missing = measure(bench_owner(), quick=ctx.quick)
    except CorpusUnavailable as error:
        ctx.add(
            Row(figure=FIGURE, backend=ctx.backend, case="(corpus not fetched)", note=str(error))
        )
        return
    for row in rows_for(results, missing, backend=ctx.backend):
        ctx.add(row)
    print(table(results), flush=True)


def main() -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ocr_project.settings")
    django.setup()
    from django.core.management import call_command

    from bench.context import format_row
    from bench.corpus.fetch import CorpusUnavailable

    call_command("migrate", verbosity=0)
    try:
        results, missing = measure(bench_owner(), quick="--quick" in sys.argv)
    except CorpusUnavailable as error:
        raise SystemExit(f"corpus not available: {error}") from error
    for row in rows_for(results, missing, backend="-"):
        print(format_row(row), flush=True)
    print()
    print(table(results))


if __name__ == "__main__":
    main()
