"""The pages of one task: its text beside its page images, its downloads, and the
actions on it (retry, read again, delete). Thin: writes go through tasks.services."""

import io

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.decorators import login_required_for_forms
from accounts.http import AuthenticatedHttpRequest

from ..documents import KIND_BY_CONTENT_TYPE, open_page_image, render_limits
from ..ocr.inspect import DocumentRejected
from ..ocr.pages import render_page_image
from ..search_hits import highlight, page_hits, search_terms, terms_pattern, word_boxes
from ..selectors import SEARCH_MAX_CHARS, task_get_for, task_pages, turned_page
from ..services.deletion import task_delete
from ..services.engine_choice import EngineChoiceError
from ..services.retry import TaskError, task_rerun, task_retry
from ..storage import local_copy
from ..throttling import refuse_too_frequent
from ..uploads import UploadRejected
from .downloads import ResultUnavailable, original_download, result_download
from .forms import RerunForm
from .thumbnails import ThumbnailUnavailable, task_thumbnail

# Page previews are rendered at screen resolution, not the OCR resolution.
PREVIEW_DPI = 100
PREVIEW_MAX_SIDE = 1400


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


@login_required_for_forms
@require_POST
def task_retry_view(request: AuthenticatedHttpRequest, task_id) -> HttpResponse:
    """Queue a failed task again from its first page."""
    task = task_get_for(request.user, task_id)
    try:
        task_retry(task=task, actor=request.user)
        messages.success(request, _("Task queued again."))
    except TaskError as error:
        messages.error(request, str(error))
    return redirect("tasks:detail", task_id=task.pk)


@login_required_for_forms
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


@login_required_for_forms
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
