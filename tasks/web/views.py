"""Server-rendered OCR task pages. Thin: every write goes through tasks.services."""

import io
import uuid

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    JsonResponse,
)
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext, pgettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.decorators import login_required_for_polling
from accounts.http import AuthenticatedHttpRequest

from ..documents import KIND_BY_CONTENT_TYPE, open_page_image, render_limits
from ..ocr.inspect import DocumentRejected
from ..ocr.pages import render_page_image
from ..pagination import TaskPaginator
from ..search_hits import (
    SNIPPETS_PER_TASK,
    highlight,
    page_hits,
    search_terms,
    terms_pattern,
    word_boxes,
)
from ..selectors import (
    DEFAULT_SORT,
    SEARCH_MAX_CHARS,
    page_texts_for,
    task_get_for,
    task_list_for,
    task_pages,
    task_search,
    task_sort,
    turned_page,
)
from ..services import (
    EngineChoiceError,
    TaskError,
    refuse_before_reading,
    task_create_batch,
    task_delete,
    task_rerun,
    task_retry,
)
from ..storage import local_copy
from ..throttling import refuse_too_frequent
from ..uploads import UploadRejected, display_name
from .downloads import ResultUnavailable, original_download, result_download
from .forms import RerunForm, TaskListForm, UploadForm
from .thumbnails import ThumbnailUnavailable, task_thumbnail

TASKS_PER_PAGE = 20
# Page previews are rendered at screen resolution, not the OCR resolution.
PREVIEW_DPI = 100
PREVIEW_MAX_SIDE = 1400


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
@require_POST
def task_rerun_view(request: AuthenticatedHttpRequest, task_id) -> HttpResponse:
    """Read a finished task again (another engine or language, or OCR forced)."""
    task = task_get_for(request.user, task_id)
    form = RerunForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            messages.error(request, " ".join(str(error) for error in errors))
        return redirect("tasks:detail", task_id=task.pk)
    try:
        # The same bucket as uploads: a re-read costs the worker what an upload does.
        refuse_too_frequent(request=request)
        task_rerun(
            task=task,
            actor=request.user,
            engine=form.cleaned_data["engine"] or None,
            language=form.cleaned_data["language"] or None,
            force_ocr=form.cleaned_data["force_ocr"],
        )
        messages.success(request, _("Task queued to be read again."))
    except (TaskError, EngineChoiceError) as error:
        messages.error(request, str(error))
    except UploadRejected as error:
        messages.error(request, error.message)
    return redirect("tasks:detail", task_id=task.pk)


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


@login_required
@require_GET
def task_detail(request: HttpRequest, task_id) -> HttpResponse:
    """Show a task: each page image beside its text."""
    task = task_get_for(request.user, task_id)
    pages = {page.index: page for page in task_pages(task)}
    query = (request.GET.get("q") or "").strip()[:SEARCH_MAX_CHARS]
    terms = search_terms(query)
    pattern = terms_pattern(terms)
    # Word boxes are matched word by word: a phrase lights up each of its words.
    word_pattern = terms_pattern([word for term in terms for word in term.split()])
    rows = []
    for index in range(task.page_count):
        page = pages.get(index)
        found = None
        if page is not None and pattern is not None:
            found = {
                "text": highlight(page.text, pattern),
                "boxes": word_boxes(page.lines, word_pattern),
            }
        rows.append((index + 1, page, found))
    hits = page_hits(((page.index, page.text) for page in pages.values()), pattern, snippets=0)
    context = {
        "task": task,
        "rows": rows,
        "query": query if pattern else "",
        "hits": hits,
        "rerun_form": RerunForm(
            initial={"engine": task.engine, "language": task.language, "force_ocr": task.force_ocr}
        ),
    }
    return render(request, "tasks/detail.html", context)


@login_required
@require_GET
def task_page_image(request: HttpRequest, task_id, number: int) -> HttpResponse:
    """Return a PNG preview of one page of the user's document."""
    task = task_get_for(request.user, task_id)
    if not 1 <= number <= task.page_count:
        raise Http404("No such page.")
    turned = turned_page(task, index=number - 1)
    try:
        if turned is not None:
            # Shown as it was read (turned upright, straightened), so it matches the text.
            image = open_page_image(turned)
        else:
            with local_copy(task.file.name) as path:
                image = render_page_image(
                    path=path,
                    kind=KIND_BY_CONTENT_TYPE[task.content_type],
                    index=number - 1,
                    dpi=PREVIEW_DPI,
                    max_pixels=settings.OCR_MAX_PIXELS,
                    limits=render_limits(for_request=True),
                )
    except (DocumentRejected, FileNotFoundError):
        raise Http404("Page preview unavailable.") from None
    image.thumbnail((PREVIEW_MAX_SIDE, PREVIEW_MAX_SIDE))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False)
    response = HttpResponse(buffer.getvalue(), content_type="image/png")
    # Until the task is done the preview is the original as uploaded; once read, a turned
    # page is served upright at the same URL, so a cached sideways copy would stay beside
    # text that says "Turned 90°" after the page reloads itself.
    response["Cache-Control"] = "private, no-store" if task.is_active else "private, max-age=3600"
    return response


@login_required
@require_GET
def task_thumbnail_view(request: HttpRequest, task_id) -> HttpResponse:
    """Return the small first-page image shown in the task list, only to the owner."""
    task = task_get_for(request.user, task_id)
    try:
        data = task_thumbnail(task=task)
    except ThumbnailUnavailable:
        raise Http404("Thumbnail unavailable.") from None
    response = HttpResponse(data, content_type="image/png")
    # Like the page previews: while the task runs its first page may still be turned
    # upright, so a copy cached now would stay sideways beside the upright detail page.
    response["Cache-Control"] = "private, no-store" if task.is_active else "private, max-age=86400"
    return response


@login_required
@require_GET
def task_download(
    request: AuthenticatedHttpRequest, task_id, fmt: str
) -> HttpResponse | FileResponse:
    """Download the result: text, full JSON, searchable PDF, hOCR or ALTO (audited)."""
    task = task_get_for(request.user, task_id)
    try:
        return result_download(task=task, fmt=fmt, actor=request.user, via="page")
    except ResultUnavailable as error:
        raise Http404(str(error)) from None


@login_required
@require_GET
def task_original(request: AuthenticatedHttpRequest, task_id) -> HttpResponse | FileResponse:
    """Download the uploaded document itself, only to its owner (audited)."""
    task = task_get_for(request.user, task_id)
    try:
        return original_download(task=task, actor=request.user, via="page")
    except FileNotFoundError:
        raise Http404("File missing.") from None


@login_required
@require_POST
def task_retry_view(request: AuthenticatedHttpRequest, task_id) -> HttpResponse:
    task = task_get_for(request.user, task_id)
    try:
        task_retry(task=task, actor=request.user)
        messages.success(request, _("Task queued again."))
    except TaskError as error:
        messages.error(request, str(error))
    return redirect("tasks:detail", task_id=task.pk)


@login_required
@require_http_methods(["GET", "POST"])
def task_delete_view(request: AuthenticatedHttpRequest, task_id) -> HttpResponse:
    """Confirm, then delete a task with its file and results."""
    task = task_get_for(request.user, task_id)
    if request.method == "POST":
        name = task.original_name
        task_delete(task=task, actor=request.user, via="page")
        messages.success(request, _("Deleted “%(name)s”.") % {"name": name})
        return redirect("tasks:list")
    return render(request, "tasks/confirm_delete.html", {"task": task})
