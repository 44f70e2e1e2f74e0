"""The task list (searched, filtered, sorted), its polling for running tasks, and the upload
page. Thin: every write goes through tasks.services, every read through tasks.selectors."""

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy, ngettext, pgettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from accounts.decorators import login_required_for_polling
from accounts.http import AuthenticatedHttpRequest

from ..pagination import TaskPaginator
from ..search_hits import SNIPPETS_PER_TASK, page_hits, search_terms, terms_pattern
from ..selectors import (
    DEFAULT_SORT,
    SEARCH_MAX_CHARS,
    page_texts_for,
    task_list_for,
    task_search,
    task_sort,
)
from ..services.creation import refuse_before_reading, task_create_batch
from ..services.engine_choice import EngineChoiceError
from ..uploads import UploadRejected, display_name
from .forms import TaskListForm, UploadForm

TASKS_PER_PAGE = 20


# The sortable columns of the task list, in table order: (sort key, heading).
SORT_COLUMNS = [
    ("name", gettext_lazy("Document")),
    ("status", gettext_lazy("Status")),
    # A context of its own: "Pages" also names the pager, which Chinese words differently.
    ("pages", pgettext_lazy("task list column", "Pages")),
    ("created", gettext_lazy("Uploaded")),
]
# The same sorts as a list for the search form's select (phones have no column headings).
SORT_CHOICES = [
    ("-created", gettext_lazy("Newest first")),
    ("created", gettext_lazy("Oldest first")),
    ("name", gettext_lazy("Name, A to Z")),
    ("-name", gettext_lazy("Name, Z to A")),
    ("status", gettext_lazy("Status, queued first")),
    ("-status", gettext_lazy("Status, failed first")),
    ("-pages", gettext_lazy("Most pages")),
    ("pages", gettext_lazy("Fewest pages")),
]


def sort_columns(current: str) -> list[dict]:
    """Return each sortable heading with the sort its link asks for and its aria-sort."""
    columns = []
    for key, label in SORT_COLUMNS:
        if current == key:
            aria, next_sort = "ascending", f"-{key}"
        elif current == f"-{key}":
            aria, next_sort = "descending", key
        else:
            # Names read best A to Z; dates, statuses and page counts biggest first.
            aria, next_sort = None, key if key == "name" else f"-{key}"
        columns.append({"key": key, "label": label, "sort": next_sort, "aria_sort": aria})
    return columns


@login_required
@require_GET
def task_list(request: HttpRequest) -> HttpResponse:
    """Show the user's tasks: searched in their text, filtered by status, sorted."""
    return task_list_page(request)


def task_list_page(
    request: HttpRequest, *, status: int = 200, selected: frozenset[uuid.UUID] = frozenset()
) -> HttpResponse:
    """Render the task list (search, filter and sort from ?q=, ?status=, ?sort=).

    ``selected``: tasks whose box is ticked again, when a bulk action refused the choice
    and the list is drawn anew with its message (``status`` then a 4xx).
    """
    form = TaskListForm(request.GET)
    tasks = task_list_for(request.user)
    has_tasks = tasks.exists()
    tasks = task_search(tasks, query=form.value("q"))
    if form.value("status"):
        tasks = tasks.filter(status=form.value("status"))
    sort = form.value("sort") or DEFAULT_SORT
    # The list never shows the text itself: do not fetch 20 documents' worth of it.
    tasks = task_sort(tasks, sort=sort).defer("result_text")
    page = TaskPaginator(tasks, TASKS_PER_PAGE).get_page(request.GET.get("page"))
    explain_hits(page.object_list, query=form.value("q"))
    context = {
        "page": page,
        "form": form,
        "has_tasks": has_tasks,
        "columns": sort_columns(sort),
        "query": form.value("q"),
        "current_sort": sort,
        "sort_choices": SORT_CHOICES,
        "search_max_chars": SEARCH_MAX_CHARS,
        "selected": selected,
    }
    return render(request, "tasks/list.html", context, status=status)


def explain_hits(tasks, *, query: str) -> None:
    """Give each task shown its search hits (count, pages, snippets) as ``task.hits``."""
    pattern = terms_pattern(search_terms(query or ""))
    if pattern is None:
        return
    texts = page_texts_for([task.pk for task in tasks])
    for task in tasks:
        task.hits = page_hits(texts.get(task.pk, []), pattern, snippets=SNIPPETS_PER_TASK)


def requested_ids(request: HttpRequest) -> list[uuid.UUID]:
    """Return the well-formed task ids in ?ids= (at most 100); junk is ignored."""
    ids = []
    for value in request.GET.get("ids", "").split(",")[:100]:
        try:
            ids.append(uuid.UUID(value.strip()))
        except ValueError:
            continue
    return ids


@login_required_for_polling
@require_GET
def task_rows(request: HttpRequest) -> HttpResponse:
    """Return fresh table rows for the given tasks (polled while tasks run)."""
    tasks = list(task_list_for(request.user).filter(pk__in=requested_ids(request)))
    return render(request, "tasks/list.html#task-rows", {"tasks": tasks})


@login_required_for_polling
@require_GET
def task_progress(request: HttpRequest) -> JsonResponse:
    """Return status and progress of the given tasks as JSON."""
    tasks = list(task_list_for(request.user).filter(pk__in=requested_ids(request)))
    return JsonResponse(
        {
            "tasks": [
                {
                    "id": str(task.pk),
                    "status": task.status,
                    "pages_done": task.pages_done,
                    "page_count": task.page_count,
                    "percent": task.progress_percent,
                    "phase": task.current_phase,
                    "phase_label": task.phase_label,
                }
                for task in tasks
            ]
        }
    )


def not_stored(uploads: list, error: UploadRejected) -> list[dict]:
    """Return each file of a refused upload with why it was not stored, in upload order.

    All or nothing: a valid file beside a refused one is not stored either, and says so.
    """
    by_position = {refused.position: refused for refused in error.refusals}
    files = []
    for position, upload in enumerate(uploads):
        refused = by_position.get(position)
        files.append(
            {"name": display_name(upload.name), "reason": refused.reason if refused else None}
        )
    if not any(file["reason"] for file in files):
        # A refusal of the whole request (too many files): no file of its own to name.
        return []
    return files


@login_required
@require_http_methods(["GET", "POST"])
def task_upload(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Upload one or more documents for OCR."""
    if request.method == "POST":
        try:
            # Before request.FILES: a body that cannot be valid is never read.
            refuse_before_reading(owner=request.user, request=request)
        except UploadRejected as error:
            messages.error(request, error.message)
            response = render(
                request, "tasks/upload.html", {"form": UploadForm()}, status=error.status
            )
            if error.retry_after:
                response["Retry-After"] = str(error.retry_after)
            return response
        form = UploadForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                tasks = task_create_batch(
                    owner=request.user,
                    uploads=form.cleaned_data["file"],
                    engine=form.cleaned_data["engine"] or None,
                    language=form.cleaned_data["language"] or None,
                    force_ocr=form.cleaned_data["force_ocr"],
                    request=request,
                )
            except UploadRejected as error:
                files = not_stored(form.cleaned_data["file"], error)
                if not files:
                    for refused in error.refusals:
                        form.add_error("file", refused.message)
                context = {"form": form, "not_stored": files}
                return render(request, "tasks/upload.html", context, status=error.status)
            except EngineChoiceError as error:
                form.add_error(error.field, str(error))
                return render(request, "tasks/upload.html", {"form": form}, status=400)
            messages.success(
                request,
                ngettext(
                    "%(count)d document queued for OCR.",
                    "%(count)d documents queued for OCR.",
                    len(tasks),
                )
                % {"count": len(tasks)},
            )
            return redirect("tasks:list")
        return render(request, "tasks/upload.html", {"form": form}, status=400)
    return render(request, "tasks/upload.html", {"form": UploadForm()})
