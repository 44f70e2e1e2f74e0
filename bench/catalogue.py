"""Every figure of `make bench`: its name (what --only takes), its module and what it measures.

The runner's FIGURES gives the order they run in; this says what each one is, for a
reader, for `bench/bench.py --list` and for the report's order. Each name says what the
figure measures, and its module in bench/figures/ is named after it (verify-chain:
verify_chain.py) and says so in its docstring.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Figure:
    name: str
    measures: str
    # Rows the figure prints under a name of their own, beside its own rows.
    also: tuple[str, ...] = ()

    @property
    def module(self) -> str:
        return "bench.figures." + self.name.replace("-", "_")


CATALOGUE = (
    Figure("record-event-link", "record_event with the keyed chain link vs plain SHA-256"),
    Figure(
        "writer-processes",
        "recording throughput of 1 and 8 writer processes, locked design and sealer",
    ),
    Figure("request-on-off", "the project's requests with auditing on and off"),
    Figure(
        "request-overhead",
        "what auditing adds to a request, the project beside django-auditlog and "
        "django-easy-audit (docs/benchmarks-request-overhead.md)",
    ),
    Figure(
        "audit-api-pages",
        "the audit API's cursor pages at scale; audit-api-counted-pages: the same "
        "requests with page numbers and COUNT(*)",
        also=("audit-api-counted-pages",),
    ),
    Figure("admin-changelist", "the admin's audit changelist at scale"),
    Figure("easyaudit-changelist", "django-easy-audit's LoginEvent changelist vs ours"),
    Figure("export-stream", "streaming export of every audit row"),
    Figure("verify-chain", "verifying the whole chain (manage.py verify_audit_chain)"),
    Figure("ocr-overhead", "OCR through the whole service vs the engine alone"),
    Figure("text-layer", "a born-digital PDF read from its text layer vs OCR"),
    Figure("ocr-workers", "a batch on one and on two OCR worker processes"),
    Figure(
        "damaged-scans",
        "both OCR engines on generated damaged scans: CER and what correction costs",
    ),
    Figure("search", "search in the recognised text of one user's tasks"),
    Figure(
        "long-scan-parallel",
        "one long scan with one and two page processes, beside the OCR floor and OCRmyPDF",
    ),
    Figure("pdf-size", "searchable PDF bytes over input bytes, by scan kind"),
    Figure(
        "corpus",
        "real scans and photos from published packages (bench/corpus/manifest.toml): CER, "
        "orientation and seconds per file beside OCRmyPDF",
    ),
)
BY_NAME = {figure.name: figure for figure in CATALOGUE}
# The report's order: each figure, then the rows it prints under names of their own.
ROW_ORDER = tuple(name for figure in CATALOGUE for name in (figure.name, *figure.also))

# The numbers and codes the figures had before they were named (older notes, saved
# results and habits use them); --only still takes them.
FORMER_CODES = {
    "1": "record-event-link",
    "1p": "writer-processes",
    "2": "request-on-off",
    "3": "audit-api-pages",
    "3b": "audit-api-counted-pages",
    "4": "admin-changelist",
    "4b": "easyaudit-changelist",
    "5": "export-stream",
    "6": "verify-chain",
    "7": "ocr-overhead",
    "7b": "text-layer",
    "8": "ocr-workers",
    "9": "damaged-scans",
    "10": "search",
    "11": "long-scan-parallel",
    "12": "pdf-size",
}


def current_name(name: str) -> str:
    """Return the figure's name for `name`, a name or a former code ("3": audit-api-pages)."""
    return FORMER_CODES.get(name, name)


def figure_for(name: str) -> str:
    """Return the figure that prints the rows called `name` (a name, a row's or a former code)."""
    name = current_name(name)
    return next((figure.name for figure in CATALOGUE if name in figure.also), name)
