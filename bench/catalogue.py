"""Every figure of `make bench`: its name (what --only takes), its module and what it measures.

The runner's FIGURES gives the order they run in; this says what each one is, for a
reader and for `bench/bench.py --list`. Short codes are the older figures' names.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Figure:
    name: str
    module: str
    measures: str


CATALOGUE = (
    Figure("1", "bench.figures.writes", "record_event with the keyed chain link vs plain SHA-256"),
    Figure("1p", "bench.figures.write_processes", "recording throughput of writer processes"),
    Figure("2", "bench.figures.writes", "the project's requests with auditing on and off"),
    Figure(
        "request-overhead",
        "bench.figures.request_overhead",
        "what auditing adds to a request, the project beside django-auditlog and "
        "django-easy-audit (docs/benchmarks-request-overhead.md)",
    ),
    Figure("3", "bench.figures.api", "the audit API at scale, cursor pages vs page numbers"),
    Figure("4", "bench.figures.admin", "the admin's audit changelist at scale"),
    Figure("4b", "bench.figures.easyaudit", "django-easy-audit's LoginEvent changelist vs ours"),
    Figure("5", "bench.figures.export", "streaming export of every audit row"),
    Figure("6", "bench.figures.export", "verifying the whole chain (verify_audit_chain)"),
    Figure("7", "bench.figures.ocr", "OCR through the whole service vs the engine alone"),
    Figure("7b", "bench.figures.ocr", "a born-digital PDF read from its text layer vs OCR"),
    Figure("8", "bench.figures.ocr", "a batch on one and on two OCR worker processes"),
    Figure("9", "bench.figures.ocr_scans", "both OCR engines on generated damaged scans"),
    Figure("10", "bench.figures.search", "search in the recognised text of one user's tasks"),
    Figure("11", "bench.figures.ocr_parallel", "one long scan with one and two page processes"),
    Figure("12", "bench.figures.pdf_size", "searchable PDF bytes over input bytes, by scan kind"),
    Figure(
        "corpus",
        "bench.figures.corpus",
        "real scans and photos from published packages (bench/corpus/manifest.toml): CER, "
        "orientation and seconds per file beside OCRmyPDF",
    ),
)
BY_NAME = {figure.name: figure for figure in CATALOGUE}
