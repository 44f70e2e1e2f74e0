"""OCR task API under /api/v2/tasks and the staff cleanup endpoint."""

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import renderers, status
from rest_framework.exceptions import APIException, NotFound, Throttled, ValidationError
from rest_framework.generics import ListAPIView
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from ocr_project.common.api_views import JsonErrorsAPIView
from ocr_project.common.permissions import HasDjangoPermission

from ..cleanup import CLEANUP_PERMISSION, cleanup_tasks
from ..models import OcrTask
from ..pagination import TaskPagination
from ..selectors import task_get_for, task_list_for
from ..services.creation import refuse_before_reading, task_create_batch
from ..services.deletion import task_delete
from ..services.engine_choice import EngineChoiceError
from ..services.retry import TaskError, task_retry
from ..uploads import UploadRejected
from ..web.downloads import RESULT_FORMATS, ResultUnavailable, result_download
from .filters import TaskFilter
from .serializers import (
    CleanupInputSerializer,
    CleanupOutputSerializer,
    TaskOutputSerializer,
    TaskResultDocumentSerializer,
    TaskUploadInputSerializer,
)

# What an API token needs here (accounts.api_tokens.permissions): reading your tasks, or
# changing them. The tasks are still only the token owner's.
TOKEN_SCOPES = {"read": "tasks:read", "write": "tasks:write"}


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "Upload too large."
    default_code = "too_large"


class InsufficientStorage(APIException):
    status_code = status.HTTP_507_INSUFFICIENT_STORAGE
    default_detail = "The file storage could not store the upload."
    default_code = "storage_full"


def rejection_to_api(error: UploadRejected) -> APIException:
    messages = [refused.message for refused in error.refusals]
    if error.status == 429:
        # DRF's Throttled: the same 429 and Retry-After as every other throttled endpoint.
        return Throttled(wait=error.retry_after, detail=" ".join(str(m) for m in messages))
    if error.status == 413:
        return PayloadTooLarge(" ".join(str(message) for message in messages))
    if error.status == 507:
        # The file was fine; the server could not keep it. "code" names the cause.
        return InsufficientStorage(" ".join(str(m) for m in messages), code=error.code)
    return ValidationError({"file": messages})


class TaskListCreateApi(ListAPIView):
    """List your OCR tasks (newest first) or upload documents to create new ones."""

    token_scopes = TOKEN_SCOPES

    serializer_class = TaskOutputSerializer
    filterset_class = TaskFilter
    pagination_class = TaskPagination
    parser_classes = [MultiPartParser]
    # The upload service applies UploadRateThrottle (shared with the upload page): the
    # schema declares its 429 and RateLimit headers (ocr_project.openapi).
    throttled_methods = ("POST",)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            # Schema generation runs without a user; the model is all it needs.
            return OcrTask.objects.none()
        return task_list_for(self.request.user)

    @extend_schema(
        request=TaskUploadInputSerializer, responses={201: TaskOutputSerializer(many=True)}
    )
    def post(self, request):
        try:
            # Before request.FILES: a body that cannot be valid is never read.
            refuse_before_reading(owner=request.user, request=request._request)
        except UploadRejected as error:
            raise rejection_to_api(error) from None
        data = TaskUploadInputSerializer(
            data={
                "file": request.FILES.getlist("file"),
                "engine": request.data.get("engine", ""),
                "language": request.data.get("language", ""),
                "force_ocr": request.data.get("force_ocr", False),
            }
        )
        data.is_valid(raise_exception=True)
        try:
            tasks = task_create_batch(
                owner=request.user,
                uploads=data.validated_data["file"],
                engine=data.validated_data.get("engine"),
                language=data.validated_data.get("language"),
                force_ocr=data.validated_data["force_ocr"],
                request=request._request,
            )
        except UploadRejected as error:
            raise rejection_to_api(error) from None
        except EngineChoiceError as error:
            raise ValidationError({error.field: [str(error)]}) from None
        return Response(TaskOutputSerializer(tasks, many=True).data, status=status.HTTP_201_CREATED)


class TaskDetailApi(APIView):
    """Read or delete one of your tasks."""

    token_scopes = TOKEN_SCOPES

    @extend_schema(responses=TaskOutputSerializer)
    def get(self, request, task_id):
        return Response(TaskOutputSerializer(task_get_for(request.user, task_id)).data)

    @extend_schema(responses={204: None})
    def delete(self, request, task_id):
        task = task_get_for(request.user, task_id)
        task_delete(task=task, actor=request.user, via="api")
        return Response(status=status.HTTP_204_NO_CONTENT)


class PlainTextRenderer(renderers.BaseRenderer):
    media_type = "text/plain"
    format = "txt"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, bytes):
            return data
        if isinstance(data, dict) and "detail" in data:
            # Errors (401, 404) are rendered here too: send their message, not a Python repr.
            data = data["detail"]
        return str(data).encode("utf-8")


class PdfRenderer(renderers.BaseRenderer):
    """Select the searchable PDF with ?format=pdf; the view writes the file itself."""

    media_type = "application/pdf"
    format = "pdf"
    charset = None
    render_style = "binary"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data


class HocrRenderer(renderers.BaseRenderer):
    """Select hOCR 1.2 (XHTML) with ?format=hocr; the view writes the document itself."""

    media_type = "application/xhtml+xml"
    format = "hocr"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data


class AltoRenderer(renderers.BaseRenderer):
    """Select ALTO 4.4 XML with ?format=alto; the view writes the document itself."""

    media_type = "application/xml"
    format = "alto"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data


class TaskResultApi(JsonErrorsAPIView):
    """Download a completed task's result: its text, the full result with the layout of each
    page (blocks, paragraphs, lines and words with boxes and confidences), a searchable PDF,
    hOCR 1.2 or ALTO 4.4 (`format=txt|json|pdf|hocr|alto`)."""

    token_scopes = TOKEN_SCOPES
    # No HEAD: DRF answers it with GET's handler, which records a task_download for a
    # response whose body is never sent.
    http_method_names = ["get", "options"]

    renderer_classes = [
        renderers.JSONRenderer,
        PlainTextRenderer,
        PdfRenderer,
        HocrRenderer,
        AltoRenderer,
    ]
    # An error (401, 404) asked for as PDF, hOCR or ALTO is reported as JSON, not as a
    # broken document.
    data_only_renderers = (PdfRenderer, HocrRenderer, AltoRenderer)

    @extend_schema(
        parameters=[OpenApiParameter("format", str, enum=list(RESULT_FORMATS))],
        responses={
            (200, "text/plain"): str,
            (200, "application/json"): TaskResultDocumentSerializer,
            (200, "application/pdf"): OpenApiTypes.BINARY,
            (200, "application/xhtml+xml"): OpenApiTypes.STR,
            (200, "application/xml"): OpenApiTypes.STR,
        },
    )
    def get(self, request, task_id):
        task = task_get_for(request.user, task_id)
        try:
            return result_download(
                task=task, fmt=request.accepted_renderer.format, actor=request.user, via="api"
            )
        except ResultUnavailable as error:
            raise NotFound(str(error)) from None


class TaskRetryApi(APIView):
    """Queue a failed task again."""

    token_scopes = TOKEN_SCOPES

    @extend_schema(request=None, responses={202: TaskOutputSerializer})
    def post(self, request, task_id):
        task = task_get_for(request.user, task_id)
        try:
            task = task_retry(task=task, actor=request.user)
        except TaskError as error:
            raise ValidationError({"status": [str(error)]}) from None
        return Response(TaskOutputSerializer(task).data, status=status.HTTP_202_ACCEPTED)


class CleanupApi(APIView):
    """Delete old tasks with their files, and orphaned files (needs tasks.delete_ocrtask)."""

    permission_classes = [HasDjangoPermission]
    required_permission = CLEANUP_PERMISSION

    @extend_schema(request=CleanupInputSerializer, responses=CleanupOutputSerializer)
    def post(self, request):
        data = CleanupInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        stats = cleanup_tasks(
            older_than_days=data.validated_data.get("older_than_days", settings.OCR_CLEANUP_DAYS),
            dry_run=data.validated_data["dry_run"],
            actor=request.user,
            via="api",
        )
        return Response(CleanupOutputSerializer(stats).data)
