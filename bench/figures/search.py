"""Figure search: search in the recognised text of one user's tasks, at 100,000 pages.

One reader owns every seeded task (the worst case for a per-user search): 10,000
documents of 10 pages, about 80 words a page from a 20,000-word vocabulary with a
Zipf-like spread. Each case times the real task list page (GET /?q=...: search, COUNT
for the pager, 20 rows rendered) through the test client. PostgreSQL answers from the
GIN-indexed stored tsvector; SQLite from the FTS5 index of tasks/migrations/0005 (a LIKE
scan where SQLite lacks FTS5).
"""

import random
import time
from itertools import accumulate

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.test import Client

from bench.context import Context
from bench.timing import Row, interleaved
from tasks.models import OcrPage, OcrTask, PageSource, Status
from tasks.selectors import task_list_for, task_search

READER = "bench-reader"
PAGES_PER_TASK = 10
FULL_PAGES = 100_000
QUICK_PAGES = 10_000
WORDS_PER_PAGE = 80
VOCABULARY = 20_000
# Planted words, with how many documents carry each: what a user really looks for.
RARE, RARE_DOCS = "zanzibarite", 12
PAIR, PAIR_DOCS = ("quarterly", "harbourmaster"), 40
TARGET_MS = 300
BATCH = 1_000
FIGURE = "search"


def vocabulary(rng: random.Random) -> list[str]:
    syllables = ["ka", "lo", "mi", "ren", "to", "sa", "vel", "ur", "ix", "no", "pe", "dra"]
    words: set[str] = set()
    while len(words) < VOCABULARY:
        words.add("".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))))
    return sorted(words)


def seed_tasks(ctx: Context, *, pages: int) -> tuple[User, int]:
    """Create the reader and their tasks unless a reused database has them; return both."""
    user_model = get_user_model()
    reader, created = user_model.objects.get_or_create(username=READER)
    existing = OcrTask.objects.filter(owner=reader).count()
    if not created and existing:
        return reader, existing * PAGES_PER_TASK
    rng = ctx.rng("search")
    words = vocabulary(rng)
    cumulative = list(accumulate(1 / (rank + 1) for rank in range(len(words))))
    documents = pages // PAGES_PER_TASK
    rare = set(rng.sample(range(documents), RARE_DOCS))
    pair = set(rng.sample(range(documents), PAIR_DOCS))
    started = time.monotonic()
    for first in range(0, documents, BATCH):
        tasks, page_rows = [], []
        for number in range(first, min(first + BATCH, documents)):
            texts = [
                " ".join(rng.choices(words, cum_weights=cumulative, k=WORDS_PER_PAGE))
                for _ in range(PAGES_PER_TASK)
            ]
            if number in rare:
                texts[rng.randrange(PAGES_PER_TASK)] += f" {RARE}"
            if number in pair:
                texts[0] += f" {PAIR[0]}"
                texts[-1] += f" {PAIR[1]}"
            task = OcrTask(
                owner=reader,
                status=Status.COMPLETED,
                original_name=f"scan-{number:05d}.pdf",
                file=f"uploads/bench/{number:05d}.pdf",
                content_type="application/pdf",
                size=100_000,
                sha256="0" * 64,
                page_count=PAGES_PER_TASK,
                pages_done=PAGES_PER_TASK,
                engine="tesseract",
                language="eng",
                result_text="\f".join(texts),
            )
            tasks.append(task)
            page_rows += [
                OcrPage(task=task, index=index, text=text, source=PageSource.OCR)
                for index, text in enumerate(texts)
            ]
        with transaction.atomic():
            OcrTask.objects.bulk_create(tasks)
            OcrPage.objects.bulk_create(page_rows, batch_size=BATCH)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE tasks_ocrtask")
    print(
        f"[{ctx.backend}] seeded {documents:,} documents, {pages:,} pages for search "
        f"in {time.monotonic() - started:.0f} s",
        flush=True,
    )
    return reader, pages


def plan(reader, query: str) -> str:
    return task_search(task_list_for(reader), query=query).explain()


def run(ctx: Context) -> None:
    reader, pages = seed_tasks(ctx, pages=QUICK_PAGES if ctx.quick else FULL_PAGES)
    client = Client(REMOTE_ADDR="198.51.100.8", HTTP_USER_AGENT="bench/1.0")
    client.force_login(reader)
    cases = {
        "no search (baseline)": "",
        f"rare word ({RARE_DOCS} docs)": RARE,
        f"two words ({PAIR_DOCS} docs)": " ".join(PAIR),
        "common word (most docs)": vocabulary(ctx.rng("search"))[0],
        "no match": "xylophonist",
    }
    for case, query in cases.items():
        found = task_search(task_list_for(reader), query=query).count()

        def get(_round, q=query):
            response = client.get("/", {"q": q})
            assert response.status_code == 200, response.status_code

        series = interleaved({"search": get}, repeats=max(5, ctx.repeats // 2), budget_s=45)
        note = f"{found:,} of {pages // PAGES_PER_TASK:,} docs match"
        if not query:
            note = "the same page without ?q="
        elif connection.vendor == "postgresql":
            used = "task_text_search" in plan(reader, query)
            note += "; GIN index used" if used else "; GIN index NOT used"
            ctx.explain[f"{FIGURE}: {case}"] = plan(reader, query)
        else:
            used = "tasks_ocrtask_search" in plan(reader, query)
            note += "; FTS5 index used" if used else "; LIKE scan (no index)"
            ctx.explain[f"{FIGURE}: {case}"] = plan(reader, query)
        ctx.add(
            Row(
                figure=FIGURE,
                backend=ctx.backend,
                case=f"task list ?q= at {pages:,} pages: {case}",
                p50=series["search"].p50_ms,
                p95=series["search"].p95_ms,
                target=f"<= {TARGET_MS} ms",
                ok=series["search"].p50_ms <= TARGET_MS,
                samples=len(series["search"].samples),
                note=note,
            )
        )
