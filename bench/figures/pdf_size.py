"""Figure pdf-size: searchable PDF bytes over input bytes, by kind of scan.

The 12-page scan of long-scan-parallel (300 dpi noisy grey stored losslessly, skewed, three pages
turned) and one-page scans of each kind a scanner writes (grey JPEG, colour JPEG, 1-bit),
each uploaded and read by the real worker job; the ratio is the stored searchable PDF's
size over the upload's. Targets: <= 0.8 on the 12-page scan, never above 1.05.

    .venv/bin/python -m bench.figures.pdf_size   # prints the rows
"""

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bench.context import Context
    from bench.timing import Row

KINDS = ("jpeg-grey", "jpeg-colour", "bitonal")
FIGURE = "pdf-size"


def documents() -> list[tuple[str, bytes, float]]:
    """Return (case, PDF, target ratio) for the 12-page scan and a page of each kind."""
    from bench.figures.long_scan_parallel import scan_document
    from tasks.tests.samples import scan_pdf_bytes
    from tasks.tests.scan_corpus import PAGE_INCHES, noisy, skewed, upright_page

    found = [("12-page scan (long-scan-parallel), Flate grey", scan_document()[0], 0.8)]
    for number, kind in enumerate(KINDS):
        image, _ = upright_page(seed=1300 + number, font="DejaVu Serif", dpi=300)
        page = noisy(skewed(image, 1.0), seed=number)
        found.append(
            (f"1 page, {kind}", scan_pdf_bytes([(page, *PAGE_INCHES)], encoding=kind), 1.05)
        )
    return found


def output_bytes(document: bytes, *, owner) -> int:
    """Return the size of the searchable PDF the worker stores for `document`."""
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.core.management import call_command

    from tasks.models import OcrTask, Status
    from tasks.services.creation import task_create_batch

    upload = SimpleUploadedFile("scan.pdf", document, content_type="application/pdf")
    [task] = task_create_batch(owner=owner, uploads=[upload], engine="tesseract", language="eng")
    call_command("ocr_worker", "--batch", "--no-startup-delay", "--no-reload", verbosity=0)
    task = OcrTask.objects.get(pk=task.pk)
    assert task.status == Status.COMPLETED, task.error
    return task.searchable_pdf.size


def rows_for(owner, *, backend: str) -> list["Row"]:
    from bench.timing import Row

    rows = []
    for case, document, target in documents():
        output = output_bytes(document, owner=owner)
        ratio = output / len(document)
        rows.append(
            Row(
                figure=FIGURE,
                backend=backend,
                case=f"searchable PDF / input: {case}",
                unit="x",
                value=ratio,
                value_label="output / input",
                target=f"<= {target}",
                ok=ratio <= target,
                samples=1,
                note=f"input {len(document)} B, output {output} B",
            )
        )
    return rows


def bench_owner():
    from django.contrib.auth import get_user_model

    owner, _ = get_user_model().objects.get_or_create(username="bench-pdf-size")
    return owner


def run(ctx: "Context") -> None:
    """Add the output / input bytes of the searchable PDF, by kind of scan."""
    for row in rows_for(bench_owner(), backend=ctx.backend):
        ctx.add(row)


def main() -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ocr_project.settings")
    django.setup()
    from django.core.management import call_command

    from bench.context import format_row

    call_command("migrate", verbosity=0)
    for row in rows_for(bench_owner(), backend="-"):
        print(format_row(row), f"(value {row.value:.3f})", flush=True)


if __name__ == "__main__":
    main()
