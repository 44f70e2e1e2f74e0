"""Figure damaged-scans: real-scan damage on a generated corpus, read by both engines.

Every page of tasks/tests/scan_corpus.py (fonts, 300 and 150 dpi, turned 90/180/270,
skewed 1 to 10 degrees, noise, a phone photo) is set upright and straight by
tasks.ocr.orientation.straighten and then read. Reported per engine: the worst character
error rate (CER) on damaged pages, CER on upright pages with and without the correction
(as the service read them before it corrected pages), and what detection and correction
cost as a share of the page's OCR time.

    .venv/bin/python -m bench.figures.damaged_scans [--quick]   # prints the rows, no database
"""

import os
import statistics
import sys
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bench.context import Context
    from bench.timing import Row

ENGLISH = {"tesseract": "eng", "rapidocr": "en"}
CER_TARGET = {"tesseract": 0.02, "rapidocr": 0.03}
COST_TARGET = 0.15
FIGURE = "damaged-scans"


def measure_engine(engine_name: str, *, quick: bool) -> dict:
    """Return CERs and timings of one engine over the corpus."""
    from tasks.ocr.engines import get_engine
    from tasks.ocr.orientation import straighten
    from tasks.tests.scan_corpus import character_error_rate, corpus

    engine = get_engine(engine_name)
    language = ENGLISH[engine_name]
    # RapidOCR takes several times Tesseract's time a page: it reads the small corpus.
    pages = corpus(quick=quick or engine_name == "rapidocr")
    damaged: list[tuple[str, float]] = []
    upright_after: list[float] = []
    upright_before: list[float] = []
    fix_seconds: list[float] = []
    ocr_seconds: list[float] = []
    for page in pages:
        started = time.perf_counter()
        image, _ = straighten(page.image)
        fixed = time.perf_counter()
        text = engine.recognize(image, language=language).text
        done = time.perf_counter()
        fix_seconds.append(fixed - started)
        ocr_seconds.append(done - fixed)
        cer = character_error_rate(expected=page.text, actual=text)
        if page.name.endswith("-upright"):
            upright_after.append(cer)
            plain = engine.recognize(page.image, language=language).text
            upright_before.append(character_error_rate(expected=page.text, actual=plain))
        else:
            damaged.append((page.name, cer))
        print(
            f"[{FIGURE}] {engine_name} {page.name}: CER {cer:.3f}, "
            f"correction {fix_seconds[-1] * 1000:.0f} ms, OCR {ocr_seconds[-1]:.2f} s",
            flush=True,
        )
    return {
        "pages": len(pages),
        "damaged": damaged,
        "upright_after": upright_after,
        "upright_before": upright_before,
        "fix": fix_seconds,
        "ocr": ocr_seconds,
    }


def rows_for(engine_name: str, figures: dict, *, backend: str) -> "list[Row]":
    """Return the three report rows of one engine."""
    from bench.timing import Row

    worst_name, worst = max(figures["damaged"], key=lambda item: item[1])
    target = CER_TARGET[engine_name]
    cost = sum(figures["fix"]) / sum(figures["ocr"])
    before, after = max(figures["upright_before"]), max(figures["upright_after"])
    return [
        Row(
            figure=FIGURE,
            backend=backend,
            case=f"{engine_name}: {len(figures['damaged'])} turned/skewed/noisy/photo pages",
            unit="CER",
            value=worst,
            value_label="worst CER",
            target=f"every page <= {target}",
            ok=worst <= target,
            samples=len(figures["damaged"]),
            note=f"worst: {worst_name}; median CER "
            f"{statistics.median(c for _, c in figures['damaged']):.3f}",
        ),
        Row(
            figure=FIGURE,
            backend=backend,
            case=f"{engine_name}: {len(figures['upright_after'])} upright pages",
            unit="CER",
            value=after,
            value_label="worst CER",
            target="no worse than without correction",
            ok=after <= before,
            samples=len(figures["upright_after"]),
            note=f"without correction (straighten skipped): worst CER {before:.3f}",
        ),
        Row(
            figure=FIGURE,
            backend=backend,
            case=f"{engine_name}: orientation + deskew cost, {figures['pages']} pages",
            unit="ms",
            p50=statistics.median(figures["fix"]) * 1000,
            p95=sorted(figures["fix"])[int(0.95 * (len(figures["fix"]) - 1))] * 1000,
            value=cost,
            value_label="of OCR time",
            target=f"<= {COST_TARGET:.0%} of OCR time",
            ok=cost <= COST_TARGET,
            samples=figures["pages"],
            note=f"OCR p50 {statistics.median(figures['ocr']):.2f} s/page",
        ),
    ]


def run(ctx: "Context") -> None:
    """Measure both engines on the corpus and add their rows."""
    for engine_name in ("tesseract", "rapidocr"):
        figures = measure_engine(engine_name, quick=ctx.quick)
        for row in rows_for(engine_name, figures, backend=ctx.backend):
            ctx.add(row)


def main() -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ocr_project.settings")
    django.setup()
    from bench.context import format_row

    quick = "--quick" in sys.argv
    engines = [name for name in ("tesseract", "rapidocr") if f"--no-{name}" not in sys.argv]
    for engine_name in engines:
        figures = measure_engine(engine_name, quick=quick)
        for row in rows_for(engine_name, figures, backend="-"):
            print(format_row(row), f"(value {row.value:.4f})", flush=True)


if __name__ == "__main__":
    main()
