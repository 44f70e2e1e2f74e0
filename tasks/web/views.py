"""Server-rendered OCR task pages. Thin: every write goes through tasks.services."""

import io
import uuid
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    JsonResponse,
    StreamingHttpResponse,
)
from django.shortcuts import redirect, render
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext, pgettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.decorators import login_required_for_polling
from accounts.http import AuthenticatedHttpRequest

from ..bulk import (
    DOWNLOAD_FORMATS,
    BulkRefused,
    archive_name,
    checked_choice,
    chosen_ids,
    plan_download,
    rerun_choice,
    rerun_limit,
    rerun_over_limit,
    tasks_download,
    tasks_rerun,
)
from ..documents import KIND_BY_CONTENT_TYPE, open_page_image, render_limits
from ..models import OcrTask
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
    task_delete_many,
    task_rerun,
    task_retry,
)
from ..storage import local_copy
from ..throttling import refuse_too_frequent
from ..uploads import UploadRejected, display_name
from .downloads import ResultUnavailable, original_download, result_download
from .forms import BulkRerunForm, RerunForm, TaskListForm, UploadForm
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
# How the bulk download page names each format.
DOWNLOAD_LABELS = {"txt": gettext_lazy("Texts (.txt)"), "pdf": gettext_lazy("Searchable PDFs")}


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


def chosen_tasks(request: HttpRequest, *, nothing: str) -> list[OcrTask]:
    """Return the user's tasks among the ids ticked (?ids= or the POST's), newest first.

    Raise BulkRefused: an id that is not one (400), none of the user's (400, ``nothing``
    says so), more than OCR_BULK_MAX_TASKS (413). Other users' ids simply match nothing:
    a page never says they exist, and they do not count against the bound. Django's
    DATA_UPLOAD_MAX_NUMBER_FIELDS bounds how many ids are read at all.
    """
    data = request.POST if request.method == "POST" else request.GET
    ids = chosen_ids(data.getlist("ids"))
    return checked_choice(list(task_list_for(request.user).filter(pk__in=ids)), nothing=nothing)


def ticked_ids(request: HttpRequest) -> frozenset[uuid.UUID]:
    """Return the well-formed ids the request ticked, to tick them again on the list."""
    data = request.POST if request.method == "POST" else request.GET
    ticked = set()
    for value in data.getlist("ids"):
        try:
            ticked.add(uuid.UUID(value.strip()))
        except ValueError:
            continue
    return frozenset(ticked)


def refuse_choice(request: HttpRequest, error: BulkRefused) -> HttpResponse:
    """Draw the task list again with why the bulk action did nothing, as a 4xx.

    Not a redirect: the answer itself says the request was refused (400, or 413 for too
    many tasks), and the boxes the user ticked stay ticked.
    """
    messages.error(request, str(error))
    return task_list_page(request, status=error.status, selected=ticked_ids(request))


@login_required
@require_http_methods(["GET", "POST"])
def task_bulk_delete_view(request: AuthenticatedHttpRequest) -> HttpResponse:
    """List the chosen tasks and ask; on POST delete them all, each audited."""
    try:
        tasks = chosen_tasks(request, nothing=_("Choose at least one task to delete."))
    except BulkRefused as error:
        return refuse_choice(request, error)
    if request.method == "POST":
        count = task_delete_many(tasks=tasks, actor=request.user, via="page")
        messages.success(
            request,
            ngettext("Deleted %(count)d task.", "Deleted %(count)d tasks.", count)
            % {"count": count},
        )
        return redirect("tasks:list")
    return render(request, "tasks/confirm_bulk_delete.html", {"tasks": tasks})


def rerun_page(
    request: HttpRequest,
    tasks: list[OcrTask],
    *,
    form: BulkRerunForm | None = None,
    status: int = 200,
    error: str = "",
) -> HttpResponse:
    """Draw the bulk re-run page: what is read again, what is left, and any refusal.

    Refused when more finished tasks than rerun_limit() are chosen (413), or when the
    POST it sent was refused (``status``, ``error``); its choice and options stay.
    """
    choice = rerun_choice(tasks)
    refusal = rerun_over_limit(len(choice.queued))
    if refusal is not None and status == 200:
        status = 413
    context = {
        "choice": choice,
        "refusal": refusal,
        "error": error,
        "limit": rerun_limit(),
        "form": form or BulkRerunForm(),
    }
    return render(request, "tasks/confirm_bulk_rerun.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def task_bulk_rerun_view(request: AuthenticatedHttpRequest) -> HttpResponse:
    """List the chosen tasks with what a re-run does to each; on POST queue them."""
    try:
        tasks = chosen_tasks(request, nothing=_("Choose at least one task to read again."))
    except BulkRefused as error:
        return refuse_choice(request, error)
    if request.method != "POST":
        return rerun_page(request, tasks)
    form = BulkRerunForm(request.POST)
    if not form.is_valid():
        # The form draws its own errors beside the fields it names.
        return rerun_page(request, tasks, form=form, status=400)
    try:
        # One request, one token of the upload bucket, as one upload of as many files.
        refuse_too_frequent(request=request)
        outcome = tasks_rerun(
            tasks=tasks,
            actor=request.user,
            engine=form.cleaned_data["engine"] or None,
            language=form.cleaned_data["language"] or None,
            force_ocr=form.cleaned_data["force_ocr"],
        )
    except BulkRefused as error:
        return rerun_page(request, tasks, form=form, status=error.status, error=str(error))
    except TaskError as error:
        return rerun_page(request, tasks, form=form, status=400, error=str(error))
    except EngineChoiceError as error:
        form.add_error(error.field, str(error))
        return rerun_page(request, tasks, form=form, status=400)
    except UploadRejected as error:
        response = rerun_page(
            request, tasks, form=form, status=error.status, error=str(error.message)
        )
        if error.retry_after:
            response["Retry-After"] = str(error.retry_after)
        return response
    if outcome.queued:
        count = len(outcome.queued)
        messages.success(
            request,
            ngettext(
                "%(count)d task queued to be read again.",
                "%(count)d tasks queued to be read again.",
                count,
            )
            % {"count": count},
        )
    for task, reason in outcome.skipped:
        messages.warning(
            request,
            _("“%(name)s” was left as it is: %(reason)s.")
            % {"name": task.original_name, "reason": reason},
        )
    return redirect("tasks:list")


@login_required
@require_http_methods(["GET", "POST"])
def task_bulk_download_view(
    request: AuthenticatedHttpRequest,
) -> HttpResponse | StreamingHttpResponse:
    """Show what a zip of the chosen tasks' results holds; on POST stream it.

    A zip that cannot be made (nothing to put in it: 400; over OCR_BULK_DOWNLOAD_MAX_BYTES:
    413) is said so on this page, which answers with that status, GET or POST.
    """
    try:
        tasks = chosen_tasks(request, nothing=_("Choose at least one task to download."))
    except BulkRefused as error:
        return refuse_choice(request, error)
    data = request.POST if request.method == "POST" else request.GET
    fmt = data.get("format") or "txt"
    status = 200
    if fmt not in DOWNLOAD_FORMATS:
        messages.error(request, _("Unknown format; choose texts or searchable PDFs."))
        fmt, status = "txt", 400
    plan = plan_download(tasks=tasks, fmt=fmt)
    refused = plan.refused
    if refused is not None and status == 200:
        status = refused.status
    if request.method == "POST" and status == 200:
        stream = tasks_download(plan=plan, actor=request.user, via="page")
        response = StreamingHttpResponse(stream, content_type="application/zip")
        response["Content-Disposition"] = content_disposition_header(
            as_attachment=True, filename=archive_name(fmt)
        )
        response["Cache-Control"] = "private, no-store"
        return response
    ids = [str(task.pk) for task in tasks]
    context = {
        "plan": plan,
        # Links that keep the choice, also on the page a refused POST draws.
        "formats": [
            (key, DOWNLOAD_LABELS[key], "?" + urlencode({"ids": ids, "format": key}, doseq=True))
            for key in DOWNLOAD_FORMATS
        ],
        "tasks": tasks,
    }
    return render(request, "tasks/confirm_bulk_download.html", context, status=status)
