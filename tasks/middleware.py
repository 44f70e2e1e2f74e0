"""Refuse request bodies that cannot be valid before anything reads them."""

from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.base_user import AbstractBaseUser
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from django_stubs_ext import StrOrPromise
from rest_framework.exceptions import AuthenticationFailed, PermissionDenied

from accounts.api_tokens.authentication import ApiTokenAuthentication
from accounts.authentication import RevocableJWTAuthentication
from accounts.decorators import login_url_after_session_end

from .api.views import TOKEN_SCOPES
from .services.creation import refuse_oversized_body, refuse_unstorable
from .uploads import UploadRejected, human_size
from .web.forms import UploadForm

# Room for form fields, JSON and multipart framing on requests that carry no files.
NON_UPLOAD_BODY_LIMIT_SLACK = 64 * 1024


class RequestBodyLimitMiddleware:
    """Answer 413 for an oversized body before CSRF or a view parses it.

    Django spools multipart files to disk while parsing, and CsrfViewMiddleware parses
    request.POST before the view runs; so without this a 250 MB body would be read in
    full only to be refused. Placed after AuthenticationMiddleware (the refusal of an
    upload is audited against the session's user) and MessageMiddleware.

    An upload from nobody is refused here too, whatever its size: before CSRF parses
    (and spools to disk) a body the view would refuse anyway, and without an audit row,
    so a client without an account cannot write to the trail.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method in ("POST", "PUT", "PATCH"):
            refusal = self.refusal(request)
            if refusal is not None:
                return refusal
        return self.get_response(request)

    def refusal(self, request: HttpRequest) -> HttpResponse | None:
        upload_paths = (reverse("tasks:upload"), reverse("api-tasks"))
        if request.path in upload_paths:
            try:
                uploader = authenticated_uploader(request)
            except PermissionDenied as denied:
                # An API token without tasks:write, refused before its body is read.
                return JsonResponse(
                    {"detail": denied.detail, "code": "permission_denied"}, status=403
                )
            if uploader is None:
                return self.unauthenticated(request)
            try:
                refuse_oversized_body(owner=uploader, request=request)
            except UploadRejected as error:
                return self.too_large(request, error.message)
            try:
                # Parsed here, before CSRF would: Django spools the files to
                # FILE_UPLOAD_TEMP_DIR, and a full disk there is a 507, not a bare 500.
                request.FILES  # noqa: B018
            except OSError as error:
                discard_spooled(request)
                refusal = refuse_unstorable(
                    owner=uploader,
                    name="upload",
                    error=error,
                    size=request.META.get("CONTENT_LENGTH"),
                )
                return self.refused(request, refusal)
            return None
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return None
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if request.content_type == "multipart/form-data":
            # Django counts only a multipart body's fields against the limit, not its
            # framing; JSON and form bodies count whole, so they get no slack.
            limit += NON_UPLOAD_BODY_LIMIT_SLACK
        if length > limit:
            message = format_lazy(
                _("Request body is {length}; the limit here is {limit}."),
                length=human_size(length),
                limit=human_size(limit),
            )
            return self.too_large(request, message)
        return None

    def unauthenticated(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith("/api/"):
            response = JsonResponse(
                {"detail": "Authentication credentials were not provided."}, status=401
            )
            response["WWW-Authenticate"] = 'Bearer realm="api"'
            return response
        # An upload form posted after its session ended (log out everywhere, expiry): the
        # files are gone with this request, so the login page must say they were not sent.
        return redirect(login_url_after_session_end(request.get_full_path()))

    def refused(self, request: HttpRequest, refusal: UploadRejected) -> HttpResponse:
        if request.path.startswith("/api/"):
            return JsonResponse(
                {"detail": refusal.message, "code": refusal.code}, status=refusal.status
            )
        messages.error(request, refusal.message)
        return render(request, "tasks/upload.html", {"form": UploadForm()}, status=refusal.status)

    def too_large(self, request: HttpRequest, message: StrOrPromise) -> HttpResponse:
        if request.path.startswith("/api/"):
            return JsonResponse({"detail": message}, status=413)
        if request.path == reverse("tasks:upload") and request.user.is_authenticated:
            messages.error(request, message)
            return render(request, "tasks/upload.html", {"form": UploadForm()}, status=413)
        return HttpResponse(str(message), content_type="text/plain; charset=utf-8", status=413)


def discard_spooled(request: HttpRequest) -> None:
    """Close (and so delete) the spool file a parse that failed part-way left open."""
    for handler in request.upload_handlers:
        spooled = getattr(handler, "file", None)
        if spooled is not None:
            spooled.close()


def authenticated_uploader(request: HttpRequest) -> AbstractBaseUser | None:
    """Return who is uploading: the session's user, else a valid bearer token's, else None.

    Raise PermissionDenied for an API token that may not write tasks.

    DRF authenticates API requests only inside the view, after this middleware; the
    same authentication class is asked here so a refusal is attributed to its user.
    """
    if request.user.is_authenticated:
        return request.user
    if not request.path.startswith("/api/"):
        return None
    try:
        # Before the view, so no DRF Request: authenticate() reads only the headers.
        authenticated = ApiTokenAuthentication().authenticate(request) or (
            RevocableJWTAuthentication().authenticate(request)  # type: ignore[arg-type]
        )
    except AuthenticationFailed:
        return None
    if authenticated is None:
        return None
    user, credential = authenticated
    scopes = getattr(credential, "scopes", None)
    if scopes is not None and TOKEN_SCOPES["write"] not in scopes:
        raise PermissionDenied(f"The API token lacks the scope {TOKEN_SCOPES['write']}.")
    return user
