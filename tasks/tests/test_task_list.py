"""The task list grown up: text search, sorting, bulk delete, page counts, thumbnails."""

import io
import re
import uuid
from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.db import connection
from django.test import Client
from PIL import Image

from audit.events import Outcome
from tasks.models import OcrTask, Status
from tasks.web.thumbnails import thumbnail_name

from . import samples
from .conftest import upload_file

pytestmark = pytest.mark.django_db

PNG = samples.encode_image(samples.make_text_image(samples.KNOWN_WORDS), format="PNG")


def row_ids(html: str) -> list[str]:
    return re.findall(r'<tr id="task-([0-9a-f-]+)"', html)


def ids(*tasks) -> list[str]:
    return [str(task.pk) for task in tasks]


# --- Search ------------------------------------------------------------------------------


def test_search_finds_words_in_the_recognised_text(page_client, user, make_task_row):
    invoice = make_task_row(user, result_text="Invoice 42\fTotal amount due: 17 EUR")
    make_task_row(user, result_text="A letter about the harbour")
    make_task_row(user, result_text="")

    html = page_client.get("/", {"q": "amount"}).content.decode()

    assert row_ids(html) == ids(invoice)


def test_search_needs_every_word_and_ignores_case(page_client, user, make_task_row):
    both = make_task_row(user, result_text="Harbour master\fquarterly REPORT")
    make_task_row(user, result_text="harbour only")

    html = page_client.get("/", {"q": "harbour report"}).content.decode()

    assert row_ids(html) == ids(both)


def test_search_never_shows_other_users_tasks(page_client, user, other_user, make_task_row):
    mine = make_task_row(user, result_text="secret formula")
    make_task_row(other_user, result_text="secret formula")

    html = page_client.get("/", {"q": "formula"}).content.decode()

    assert row_ids(html) == ids(mine)


@pytest.mark.parametrize(
    "query",
    [
        '"unclosed',
        "a & b | !c",
        "-",
        "()",
        "x" * 500,
        "%_\\",
        # FTS5 syntax (SQLite): operators, prefixes, NEAR groups, columns, initial tokens.
        '"',
        '""',
        "AND",
        "OR NOT",
        "*",
        "absent*",
        "NEAR(",
        "NEAR(a b, 2)",
        "result_text:absent",
        "^absent",
        "{result_text}: x",
        "a + b",
        "'; DROP TABLE tasks_ocrtask; --",
    ],
)
def test_odd_search_input_is_an_ordinary_search(page_client, user, make_task_row, query):
    make_task_row(user, result_text="nothing to see")

    response = page_client.get("/", {"q": query})

    assert response.status_code == 200
    assert row_ids(response.content.decode()) == []


@pytest.mark.parametrize("query", ["AND", "NEAR(", "*", "-", '"', "OR"])
def test_syntax_words_are_searched_as_words(page_client, user, make_task_row, query):
    plain = make_task_row(user, result_text="black AND white, NEAR( the * and - sign OR not")
    make_task_row(user, result_text="nothing to see")

    response = page_client.get("/", {"q": f"black {query}"})

    assert response.status_code == 200
    assert row_ids(response.content.decode()) == ids(plain)


def test_search_follows_every_change_of_the_text(page_client, user, make_task_row):
    task = make_task_row(user, result_text="")
    gone = make_task_row(user, result_text="kestrel nest")

    def found(word: str) -> list[str]:
        return row_ids(page_client.get("/", {"q": word}).content.decode())

    assert found("kestrel") == ids(gone)
    OcrTask.objects.filter(pk=task.pk).update(result_text="osprey\fkestrel")
    assert sorted(found("kestrel")) == sorted(ids(task, gone))
    OcrTask.objects.filter(pk=task.pk).update(result_text="osprey only")
    assert found("kestrel") == ids(gone)
    assert found("osprey") == ids(task)
    gone.delete()
    assert found("kestrel") == []
    task.delete()
    assert found("osprey") == []
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            # A contentless index told to forget text it never held is corrupt: check it.
            cursor.execute(
                "INSERT INTO tasks_ocrtask_search (tasks_ocrtask_search, rank) "
                "VALUES ('integrity-check', 0)"
            )
            cursor.execute("SELECT count(*) FROM tasks_ocrtask_search_key")
            assert cursor.fetchone()[0] == OcrTask.objects.count()


@pytest.mark.sqlite  # the FTS5 index exists on SQLite only
def test_search_uses_the_fts5_index_on_sqlite(user, make_task_row):
    from tasks.selectors import task_search

    make_task_row(user, result_text="needle")
    plan = task_search(OcrTask.objects.order_by(), query="needle").explain()

    assert "VIRTUAL TABLE INDEX" in plan and "tasks_ocrtask_search" in plan
    # Django rebuilds a SQLite table for some schema changes, and its triggers go with it:
    # a migration that does so must install the index again (tasks/migrations/0005).
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' ORDER BY name")
        triggers = {name for (name,) in cursor.fetchall()}
    assert {
        "tasks_ocrtask_search_delete",
        "tasks_ocrtask_search_insert",
        "tasks_ocrtask_search_update",
    } <= triggers


@pytest.mark.postgresql  # the full-text index exists on PostgreSQL only
def test_search_uses_the_gin_index_on_postgresql(user, make_task_row):
    from tasks.selectors import task_search

    make_task_row(user, result_text="needle")
    # On a tiny table the planner rightly prefers a scan; forbid it to prove the index fits
    # the query's expression (bench/figures/search.py measures it at 100,000 pages).
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        try:
            plan = task_search(OcrTask.objects.order_by(), query="needle").explain()
        finally:
            cursor.execute("RESET enable_seqscan")

    assert "task_text_search" in plan


def test_a_search_is_counted_exactly_and_the_planner_left_as_it_was(
    page_client, client_for, user, make_task_row
):
    from tasks.pagination import TaskPaginator
    from tasks.selectors import task_list_for, task_search

    for number in range(7):
        make_task_row(user, result_text=f"heron {number}" if number % 2 else "gull")
    searched = task_search(task_list_for(user), query="heron")

    assert TaskPaginator(searched, 2).count == 3
    assert len(row_ids(page_client.get("/", {"q": "heron"}).content.decode())) == 3
    assert client_for(user).get("/api/v2/tasks", {"q": "heron"}).json()["count"] == 3
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT current_setting('enable_seqscan'), current_setting('enable_indexscan')"
            )
            assert cursor.fetchone() == ("on", "on")


@pytest.mark.postgresql  # the GIN index exists on PostgreSQL only
def test_counting_a_search_on_postgresql_reads_the_index_not_every_row(user, make_task_row):
    from tasks.pagination import counting_from_indexes
    from tasks.selectors import task_list_for, task_search

    make_task_row(user, result_text="heron")
    searched = task_search(task_list_for(user), query="heron")
    # A word in every row: the planner's own choice is a scan that reads each row's vector.
    with counting_from_indexes():
        plan = searched.order_by().explain()

    assert "Seq Scan" not in plan and "Bitmap" in plan


# --- Empty states ------------------------------------------------------------------------


def test_no_tasks_at_all_invites_an_upload(page_client):
    html = page_client.get("/").content.decode()

    assert 'id="no-tasks"' in html
    assert 'id="no-matches"' not in html
    assert "No tasks yet." in html


def test_a_search_with_no_match_says_so_not_no_tasks(page_client, user, make_task_row):
    make_task_row(user, result_text="harbour")

    html = page_client.get("/", {"q": "zebra"}).content.decode()

    assert 'id="no-matches"' in html
    assert "No tasks match this search." in html
    assert "No tasks yet." not in html
    # The search box keeps what was typed, so it can be corrected.
    assert 'value="zebra"' in html


def test_a_status_filter_with_no_match_says_so(page_client, user, make_task_row):
    make_task_row(user, status=Status.COMPLETED)

    html = page_client.get("/", {"status": "failed"}).content.decode()

    assert 'id="no-matches"' in html


# --- Sorting -----------------------------------------------------------------------------


@pytest.fixture
def three_tasks(user, make_task_row):
    """Three tasks that sort differently by every key."""
    return {
        "b": make_task_row(
            user, original_name="b.pdf", status=Status.FAILED, page_count=3, age=timedelta(days=2)
        ),
        "c": make_task_row(
            user, original_name="c.png", status=Status.QUEUED, page_count=1, age=timedelta(days=1)
        ),
        "a": make_task_row(user, original_name="a.tif", status=Status.COMPLETED, page_count=7),
    }


@pytest.mark.parametrize(
    ("sort", "order"),
    [
        ("name", "abc"),
        ("-name", "cba"),
        ("created", "bca"),
        ("-created", "acb"),
        ("status", "cab"),  # lifecycle order: queued, processing, completed, failed
        ("-status", "bac"),
        ("pages", "cba"),
        ("-pages", "abc"),
        ("nonsense", "acb"),  # an unknown sort falls back to newest first
    ],
)
def test_list_sorts_by_name_date_status_and_pages(page_client, three_tasks, sort, order):
    html = page_client.get("/", {"sort": sort}).content.decode()

    assert row_ids(html) == ids(*(three_tasks[key] for key in order))


def test_column_headings_toggle_the_sort_and_say_which_is_active(page_client, three_tasks):
    html = page_client.get("/", {"sort": "name", "q": ""}).content.decode()

    assert re.search(r'<th scope="col" aria-sort="ascending"><a href="/\?sort=-name&amp;q="', html)
    assert 'href="/?sort=-pages&amp;q="' in html


def test_pagination_keeps_search_sort_and_filter(page_client, user, make_task_row):
    tasks = [
        make_task_row(user, status=Status.COMPLETED, result_text="harbour", page_count=n + 1)
        for n in range(21)
    ]
    make_task_row(user, status=Status.FAILED, result_text="harbour")
    make_task_row(user, status=Status.COMPLETED, result_text="lighthouse")
    query = {"q": "harbour", "status": "completed", "sort": "pages"}

    first = page_client.get("/", query).content.decode()
    link = re.search(r'<a href="/(\?[^"]*page=2[^"]*)">Next</a>', first).group(1)
    second = page_client.get("/" + link.replace("&amp;", "&")).content.decode()

    assert row_ids(first) == ids(*tasks[:20])
    assert row_ids(second) == ids(tasks[20])
    assert "q=harbour" in link and "status=completed" in link and "sort=pages" in link


def test_list_shows_the_page_count(page_client, user, make_task_row):
    make_task_row(user, page_count=12)

    html = page_client.get("/").content.decode()

    assert re.search(r'<td class="pages-count">\s*12 pages\s*</td>', html)


# --- Bulk delete -------------------------------------------------------------------------


def test_bulk_delete_asks_first_listing_what_will_go(page_client, user, make_task_row):
    one = make_task_row(user, original_name="one.png")
    two = make_task_row(user, original_name="two.pdf", page_count=4)
    keep = make_task_row(user, original_name="keep.png")

    confirm = page_client.get("/tasks/delete/", {"ids": [one.pk, two.pk]})

    html = confirm.content.decode()
    assert confirm.status_code == 200
    assert "Delete 2 tasks?" in html
    assert "one.png" in html and "two.pdf" in html and "4 pages" in html
    assert "keep.png" not in html
    assert OcrTask.objects.filter(pk__in=[one.pk, two.pk, keep.pk]).count() == 3


def test_bulk_delete_deletes_each_with_its_own_audit_event(
    page_client,
    user,
    make_task,
    stored_files,
    audit_events,
    django_capture_on_commit_callbacks,
):
    doomed = [make_task(user, upload_file(PNG, f"scan-{n}.png")) for n in range(3)]
    keep = make_task(user, upload_file(PNG, "keep.png"))
    # A thumbnail made before the delete goes with its task.
    assert page_client.get(f"/tasks/{doomed[0].pk}/thumbnail.png").status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        response = page_client.post(
            "/tasks/delete/", {"ids": [task.pk for task in doomed]}, follow=True
        )

    assert response.redirect_chain == [("/", 302)]
    assert "Deleted 3 tasks." in response.content.decode()
    assert list(OcrTask.objects.all()) == [keep]
    assert stored_files() == [keep.file.name]
    events = audit_events("task_delete")
    assert sorted(event.resource_id for event in events) == sorted(str(t.pk) for t in doomed)
    assert {(event.outcome, event.user_id, event.metadata["via"]) for event in events} == {
        (Outcome.SUCCESS, user.pk, "page")
    }


def test_bulk_delete_cannot_touch_other_users_tasks(
    page_client, user, other_user, make_task_row, audit_events
):
    mine = make_task_row(user)
    theirs = make_task_row(other_user, original_name="theirs.png")

    confirm = page_client.get("/tasks/delete/", {"ids": [theirs.pk]})
    deleted = page_client.post("/tasks/delete/", {"ids": [theirs.pk, mine.pk]})

    assert confirm.status_code == 400
    assert "theirs.png" not in confirm.content.decode()
    assert "Choose at least one task to delete." in confirm.content.decode()
    assert deleted.status_code == 302
    assert list(OcrTask.objects.all()) == [theirs]
    assert [event.resource_id for event in audit_events("task_delete")] == [str(mine.pk)]


def test_bulk_delete_with_nothing_chosen_says_so(page_client, user, make_task_row):
    make_task_row(user)

    response = page_client.post("/tasks/delete/", {"ids": [str(uuid.uuid4()), ""]})

    assert response.status_code == 400
    assert "Choose at least one task to delete." in response.content.decode()
    assert OcrTask.objects.count() == 1


def test_bulk_delete_with_a_malformed_id_deletes_nothing(page_client, user, make_task_row):
    task = make_task_row(user)

    response = page_client.post("/tasks/delete/", {"ids": [task.pk, "junk"]})

    assert response.status_code == 400
    assert "not a task id; nothing was done." in response.content.decode()
    assert list(OcrTask.objects.all()) == [task]


def test_bulk_delete_needs_csrf(user, make_task_row):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    task = make_task_row(user)

    response = client.post("/tasks/delete/", {"ids": [task.pk]})

    assert response.status_code == 403
    assert OcrTask.objects.count() == 1


# --- Thumbnails --------------------------------------------------------------------------


def test_thumbnail_is_made_once_and_stored(page_client, user, make_task):
    task = make_task(user, upload_file(PNG, "scan.png"))
    # While the task runs it is drawn but not kept: its first page may yet be turned.
    assert page_client.get(f"/tasks/{task.pk}/thumbnail.png").status_code == 200
    assert not default_storage.exists(thumbnail_name(task.pk))
    OcrTask.objects.filter(pk=task.pk).update(status=Status.COMPLETED)

    first = page_client.get(f"/tasks/{task.pk}/thumbnail.png")

    assert first.status_code == 200
    assert first["Content-Type"] == "image/png"
    assert "private" in first["Cache-Control"]
    image = Image.open(io.BytesIO(first.content))
    assert max(image.size) <= 96
    assert default_storage.exists(thumbnail_name(task.pk))
    # The second answer comes from storage: even with the original gone, it is served.
    default_storage.delete(task.file.name)
    second = page_client.get(f"/tasks/{task.pk}/thumbnail.png")
    assert second.content == first.content


def test_thumbnail_of_a_pdf_shows_its_first_page(page_client, user, make_task):
    pdf = samples.image_pdf_bytes([samples.make_text_image(samples.KNOWN_WORDS)] * 2)
    task = make_task(user, upload_file(pdf, "two.pdf"))

    response = page_client.get(f"/tasks/{task.pk}/thumbnail.png")

    assert response.status_code == 200
    assert Image.open(io.BytesIO(response.content)).format == "PNG"


def test_thumbnail_only_for_the_owner(client_for, user, other_user, make_task):
    task = make_task(user, upload_file(PNG, "scan.png"))

    response = client_for(other_user).get(f"/tasks/{task.pk}/thumbnail.png")

    assert response.status_code == 404
    assert not default_storage.exists(thumbnail_name(task.pk))


def test_thumbnail_of_a_missing_file_is_404(page_client, user, make_task_row):
    task = make_task_row(user)

    assert page_client.get(f"/tasks/{task.pk}/thumbnail.png").status_code == 404


def test_list_rows_show_a_thumbnail(page_client, user, make_task_row):
    task = make_task_row(user)

    html = page_client.get("/").content.decode()

    assert f'<img src="/tasks/{task.pk}/thumbnail.png" alt=""' in html
