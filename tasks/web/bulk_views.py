"""The task list's bulk pages: delete, read again or download the tasks ticked.

Thin like the other pages: the choice, its bounds and the work are tasks.bulk's and
tasks.services'; a refused choice draws the list again (tasks.web.list_views) with why.
"""

import uuid
from urllib.parse import urlencode

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, QueryDict, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_http_methods

from accounts.decorators import login_required_for_forms
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
from ..models import OcrTask
from ..selectors import task_list_for
from ..services.deletion import task_delete_many
from ..services.engine_choice import EngineChoiceError
from ..services.retry import TaskError
from ..throttling import refuse_too_frequent
from ..uploads import UploadRejected
from .forms import BulkRerunForm
from .list_views import task_list_page

# How the bulk download page names each format.
DOWNLOAD_LABELS = {"txt": gettext_lazy("Texts (.txt)"), "pdf": gettext_lazy("Searchable PDFs")}


def submitted(request: HttpRequest) -> QueryDict:
    """Return what a bulk page reads: the form on a POST, else the query string (?ids=)."""
    return request.POST if request.method == "POST" else request.GET


def chosen_tasks(request: HttpRequest, *, nothing: str) -> list[OcrTask]:
    """Return the user's tasks among the ids ticked (?ids= or the POST's), newest first.

    Raise BulkRefused: an id that is not one (400), none of the user's (400, ``nothing``
    says so), more than OCR_BULK_MAX_TASKS (413). Other users' ids simply match nothing:
    a page never says they exist, and they do not count against the bound. Django's
    DATA_UPLOAD_MAX_NUMBER_FIELDS bounds how many ids are read at all.
    """
    ids = chosen_ids(submitted(request).getlist("ids"))
    return checked_choice(list(task_list_for(request.user).filter(pk__in=ids)), nothing=nothing)


def ticked_ids(request: HttpRequest) -> frozenset[uuid.UUID]:
    """Return the well-formed ids the request ticked, to tick them again on the list."""
    return frozenset(chosen_ids(submitted(request).getlist("ids"), skip_malformed=True))


def refuse_choice(request: HttpRequest, error: BulkRefused) -> HttpResponse:
    """Draw the task list again with why the bulk action did nothing, as a 4xx.

    Not a redirect: the answer itself says the request was refused (400, or 413 for too
    many tasks), and the boxes the user ticked stay ticked.
    """
    messages.error(request, str(error))
    return task_list_page(request, status=error.status, selected=ticked_ids(request))


@login_required_for_forms
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


@login_required_for_forms
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


@login_required_for_forms
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
    fmt = submitted(request).get("format") or "txt"
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
