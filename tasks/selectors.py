"""Read OCR tasks. Users only ever see their own."""

from collections.abc import Sequence
from datetime import datetime

from django.core.files.storage import default_storage
from django.db import connection
from django.db.models import BooleanField, Case, IntegerField, QuerySet, Value, When
from django.db.models.expressions import RawSQL
from django.http import Http404

from audit.recording.access import note_refused_resource

from .models import OcrPage, OcrTask, Status
from .result_formats.document import page_blocks

# The text-search configuration of the stored vector (migration 0003): "simple" lowercases
# words without stemming, so it treats English, pinyin and codes alike.
SEARCH_CONFIG = "simple"
SEARCH_MAX_CHARS = 200
# The FTS5 table of migration 0005 (SQLite), and tasks_ocrtask_search_key beside it.
SQLITE_SEARCH = "tasks_ocrtask_search"
# Sort keys the list and the API accept, with the column each one orders by.
SORT_FIELDS = {
    "name": "original_name",
    "created": "created_at",
    "status": "status_rank",
    "pages": "page_count",
}
DEFAULT_SORT = "-created"
# Status sorts in lifecycle order, not alphabetically.
STATUS_RANK = [Status.QUEUED, Status.PROCESSING, Status.COMPLETED, Status.FAILED]


def task_list_for(user) -> QuerySet[OcrTask]:
    """Return the user's tasks, newest first."""
    return OcrTask.objects.filter(owner=user).order_by("-created_at")


def fts5_match(query: str) -> str:
    """Return an FTS5 query that needs every word of ``query``, each as a quoted phrase.

    Nothing the user types is FTS5 syntax (AND, NEAR(, *, -, column:): inside a phrase
    everything is text to match, and the user's own double quotes are dropped.
    """
    words = (word.replace('"', "") for word in query.split())
    return " ".join(f'"{word}"' for word in words if word)


def sqlite_search_index() -> bool:
    """Return True when SQLite has the FTS5 index of migration 0005 (FTS5 compiled in)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = %s", [SQLITE_SEARCH]
        )
        return cursor.fetchone() is not None


def search_syntax() -> str:
    """Return how task_search reads a query on this database, for the help page.

    "websearch": whole words, "quoted phrases" and -excluded words (PostgreSQL);
    "words": every word, whole (SQLite's FTS5 index); "substring": every word anywhere
    in the text (SQLite built without FTS5).
    """
    if connection.vendor == "postgresql":
        return "websearch"
    if connection.vendor == "sqlite" and sqlite_search_index():
        return "words"
    return "substring"


def task_search(tasks: QuerySet[OcrTask], *, query: str) -> QuerySet[OcrTask]:
    """Return the tasks whose recognised text contains every word of ``query``.

    PostgreSQL matches whole words (websearch syntax: "quoted phrases", -excluded) through
    the GIN-indexed stored vector; SQLite matches every word, whole, through the FTS5
    index of migration 0005 (or, without FTS5, as a case-insensitive substring). Both
    are measured at 100,000 pages in bench/figures/search.py.
    """
    query = query.strip()[:SEARCH_MAX_CHARS]
    if not query:
        return tasks
    if connection.vendor == "sqlite" and sqlite_search_index():
        phrases = fts5_match(query)
        if not phrases:  # only quotes: no word to look for, as PostgreSQL finds nothing
            return tasks.none()
        # The index holds words only, keyed by tasks_ocrtask_search_key (a task's UUID
        # cannot be an FTS5 rowid); the words are a bound parameter, never spliced in.
        found = RawSQL(
            '"tasks_ocrtask"."id" IN (SELECT task_id FROM tasks_ocrtask_search_key WHERE id IN '
            "(SELECT rowid FROM tasks_ocrtask_search WHERE tasks_ocrtask_search MATCH %s))",
            [phrases],
            output_field=BooleanField(),
        )
        return tasks.filter(found)
    if connection.vendor == "postgresql":
        # text_search is the stored tsvector of migration 0003, kept off the model because
        # SQLite cannot have it; the query is a bound parameter, never spliced into SQL.
        match = RawSQL(  # noqa: S611 (constant SQL; the user's words are a parameter)
            '"tasks_ocrtask"."text_search" @@ '
            f"websearch_to_tsquery('{SEARCH_CONFIG}'::regconfig, %s)",
            [query],
            output_field=BooleanField(),
        )
        return tasks.filter(match)
    for word in query.split():
        tasks = tasks.filter(result_text__icontains=word.strip('"'))
    return tasks


def task_sort(tasks: QuerySet[OcrTask], *, sort: str) -> QuerySet[OcrTask]:
    """Return the tasks ordered by a key of SORT_FIELDS, ``-`` first for descending."""
    key = sort.removeprefix("-")
    if key not in SORT_FIELDS:
        key, sort = DEFAULT_SORT.removeprefix("-"), DEFAULT_SORT
    descending = sort.startswith("-")
    if key == "status":
        tasks = tasks.alias(
            status_rank=Case(
                *[When(status=status, then=Value(rank)) for rank, status in enumerate(STATUS_RANK)],
                output_field=IntegerField(),
            )
        )
    field = SORT_FIELDS[key]
    # Ties (same name, same status) fall back to newest first, then id: a stable page order.
    return tasks.order_by(f"-{field}" if descending else field, "-created_at", "pk")


def task_get_for(user, task_id) -> OcrTask:
    """Return one of the user's tasks, or raise Http404 (also for other users' tasks)."""
    task = task_list_for(user).filter(pk=task_id).first()
    if task is None:
        if OcrTask.objects.filter(pk=task_id).exists():
            # Someone else's: the client still gets 404 (existence is not disclosed), the
            # trail gets access_denied.
            note_refused_resource(resource_type="task", resource_id=task_id)
        raise Http404("No such task.")
    return task


def page_texts_for(task_ids: Sequence) -> dict:
    """Return each task's page texts as (index, text) pairs in page order, by task id.

    From the text the search indexes (pages joined by form feeds), so what explains a
    hit is what matched it.
    """
    rows = OcrTask.objects.filter(pk__in=task_ids).values_list("pk", "result_text")
    return {pk: list(enumerate(text.split("\f"))) for pk, text in rows}


def task_pages(task: OcrTask) -> QuerySet[OcrPage]:
    """Return the task's page results in page order."""
    return task.pages.order_by("index")


def task_result_document(task: OcrTask) -> dict:
    """Return the task's full result as a JSON-ready document."""
    return {
        "id": str(task.pk),
        "original_name": task.original_name,
        "status": task.status,
        "engine": task.engine,
        "language": task.language,
        "force_ocr": task.force_ocr,
        "page_count": task.page_count,
        "sha256": task.sha256,
        "pages": [
            {
                "page": page.number,
                "source": page.source,
                "confidence": page.confidence,
                "width": page.width,
                "height": page.height,
                "rotation": page.rotation,
                "skew": page.skew,
                "orientation_certain": page.orientation_certain,
                # The resolution a PDF page was rendered at (null for images).
                "dpi": page.dpi,
                # Why it was read at a lower resolution than asked, or not read at all.
                "note": page.note,
                # "used", "rejected: <reason>" or "ignored: <reason>"; "" without a layer.
                "text_layer": page.text_layer,
                "no_text_found": page.no_text_found,
                "text": page.text,
                # The lines as stored, flat in reading order, each naming its block and
                # paragraph; "blocks" nests the same lines for readers of the layout.
                "lines": page.lines,
                "blocks": page_blocks(page.lines),
            }
            for page in task_pages(task)
        ],
        "no_text_found": task.no_text_found,
        "text": task.result_text,
    }


def turned_page(task: OcrTask, *, index: int) -> OcrPage | None:
    """Return page `index` if it was turned before it was read (its image is stored)."""
    return task.pages.filter(index=index).exclude(image="").first()


def cleanup_plan(*, created_before: datetime) -> list[dict]:
    """Return, per owner, how many tasks and stored files a cleanup would delete.

    Rows are {"username", "tasks", "files"}, most tasks first; a task whose file is
    already gone counts as a task but not a file, as the cleanup's statistics do.
    """
    by_owner: dict[str, dict] = {}
    old = OcrTask.objects.filter(created_at__lt=created_before)
    for username, name in old.values_list("owner__username", "file").iterator(chunk_size=2000):
        row = by_owner.setdefault(username, {"username": username, "tasks": 0, "files": 0})
        row["tasks"] += 1
        row["files"] += bool(name) and default_storage.exists(name)
    return sorted(by_owner.values(), key=lambda row: (-row["tasks"], row["username"]))
