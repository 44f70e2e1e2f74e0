"""Figure text-layer: a born-digital PDF read from its text layer vs rendered and OCRed."""

import statistics
import tempfile

from django.conf import settings

from bench.context import Context
from bench.ocr_uploads import WORDS
from bench.timing import Row, interleaved

FIGURE = "text-layer"


def run(ctx: Context) -> None:
    """Time the text-layer path and the OCR path over the same born-digital PDF."""
    from tasks.ocr.detect import HEAD_SIZE, detect_kind
    from tasks.ocr.engines import get_engine
    from tasks.ocr.pages import iter_pages
    from tasks.ocr.resolution import PdfResolution
    from tasks.ocr.text_layer_check import TextLayerPolicy
    from tasks.tests.samples import text_pdf_bytes

    pages = 1 if ctx.quick else 3
    lines = [" ".join(WORDS[(p * 5 + k) % len(WORDS)] for k in range(8)) for p in range(30)]
    data = text_pdf_bytes([lines for _ in range(pages)])
    engine = get_engine("tesseract")
    kind = detect_kind(data[:HEAD_SIZE])
    with tempfile.NamedTemporaryFile(suffix=".pdf") as handle:
        handle.write(data)
        handle.flush()
        # The text path checks each layer as the worker does: one line OCRed and compared.
        common = {
            "path": handle.name,
            "kind": kind,
            "resolution": PdfResolution.from_settings(),
            "text_policy": TextLayerPolicy(
                languages=("eng",),
                read_sample=lambda image: engine.recognize(image, language="eng").text,
            ),
        }

        def text_path(n):
            read = list(iter_pages(**common))
            assert all(page.text_layer is not None for page in read)

        def ocr_path(n):
            for page in iter_pages(**common, min_text_chars=10**9):
                engine.recognize(page.image, language="eng")

        series = interleaved(
            {"text": text_path, "ocr": ocr_path}, repeats=1 if ctx.quick else 2, warmup=0
        )
    text_s = statistics.median(series["text"].samples) / pages
    ocr_s = statistics.median(series["ocr"].samples) / pages
    ratio = ocr_s / text_s
    ctx.add(
        Row(
            figure=FIGURE,
            backend=ctx.backend,
            case=f"born-digital PDF, {pages} pages, tesseract at {settings.OCR_PDF_DPI} dpi",
            unit="s/page",
            p50=text_s,
            value=ratio,
            value_label="OCR/text-layer",
            # The text path checks each layer by OCRing one line a page (drawn by the
            # render child), so a checked layer costs a fraction of OCR, not next to nothing.
            target="ratio >= 3",
            ok=ratio >= 3,
            samples=len(series["text"].samples),
            note=f"text layer {text_s * 1000:.1f} ms/page, OCR path {ocr_s:.2f} s/page",
        )
    )
