"""Figure ocr-overhead: OCR through the whole service (upload, worker, result) vs the engine.

The page is printed words on white, A4 at 150 dpi (a quarter of one in the quick run),
read by both engines; the service's side is the API upload, the real worker job and
the result request, the engine's side engine.recognize on the same image.
"""

import io
import statistics

from django.contrib.auth import get_user_model
from PIL import Image

from bench.context import Context
from bench.ocr_uploads import ENGLISH, api_client, forget_queued_jobs, page_image, png_bytes, upload
from bench.timing import Row, interleaved, median_ratio

FIGURE = "ocr-overhead"


def run(ctx: Context) -> None:
    """Time upload, worker job and stored result vs engine.recognize, per page, per engine."""
    from django.core.management import call_command

    from tasks.ocr.engines import get_engine

    user = get_user_model().objects.get(pk=ctx.seed.user_ids[2])
    client, headers = api_client(user)
    rounds = 2 if ctx.quick else 3
    # A quarter of an A4 page in the quick run: RapidOCR takes seconds per full page.
    size, lines, label = ((1240, 480), 6, "A4/4") if ctx.quick else ((1240, 1754), 22, "A4")
    for engine_name in ("tesseract", "rapidocr"):
        engine = get_engine(engine_name)
        # Models load lazily on the first page; neither side should pay for that.
        engine.recognize(page_image(999, size=(400, 100), lines=1), language=ENGLISH[engine_name])
        documents = [png_bytes(page_image(n, size=size, lines=lines)) for n in range(rounds + 1)]
        images = [Image.open(io.BytesIO(data)) for data in documents]
        for image in images:
            image.load()

        def pipeline(n, engine_name=engine_name, documents=documents):
            (task_id,) = upload(
                client, headers, [(f"page-{n}.png", documents[n])], engine=engine_name
            )
            # The real worker runs the queued job (it needs the job row for its context).
            call_command("ocr_worker", "--batch", "--no-startup-delay", "--no-reload", verbosity=0)
            result = client.get(f"/api/v2/tasks/{task_id}/result?format=json", **headers)
            assert result.status_code == 200, result.content[:300]

        def direct(n, engine=engine, images=images, engine_name=engine_name):
            engine.recognize(images[n], language=ENGLISH[engine_name])

        series = interleaved(
            {"pipeline": lambda n: pipeline(max(n, 0)), "direct": lambda n: direct(max(n, 0))},
            repeats=rounds,
            warmup=0 if ctx.quick else 1,
        )
        ratio = median_ratio(series["pipeline"], series["direct"])
        ctx.add(
            Row(
                figure=FIGURE,
                backend=ctx.backend,
                case=f"{engine_name}, {label} page at 150 dpi ({size[0]}x{size[1]})",
                unit="s/page",
                p50=statistics.median(series["pipeline"].samples),
                p95=max(series["pipeline"].samples),
                value=ratio,
                value_label="pipeline/direct",
                target="overhead ratio <= 1.10",
                ok=ratio <= 1.10,
                samples=rounds,
                note=f"direct p50 {statistics.median(series['direct'].samples):.2f} s/page; "
                "p95 column is the max",
            )
        )
    forget_queued_jobs()
