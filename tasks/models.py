"""OCR tasks: one uploaded document, its processing state and its recognised text."""

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from .failures import failure_message, original_missing


class Status(models.TextChoices):
    QUEUED = "queued", _("Queued")
    PROCESSING = "processing", _("Processing")
    COMPLETED = "completed", _("Completed")
    FAILED = "failed", _("Failed")


class Phase(models.TextChoices):
    """What a processing task is doing right now (a queued or finished task has none)."""

    NONE = "", _("None")
    RENDERING = "rendering", _("Rendering")
    READING = "reading", _("Reading")
    BUILDING = "building", _("Building outputs")


class PageSource(models.TextChoices):
    OCR = "ocr", _("OCR")
    TEXT_LAYER = "text_layer", _("PDF text layer")


class OcrTask(models.Model):
    """One uploaded document and the work of reading it."""

    id = models.UUIDField(_("ID"), primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="ocr_tasks",
        verbose_name=_("owner"),
    )
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.QUEUED
    )
    # As the client named it: shown (escaped) but never used to build a path.
    original_name = models.CharField(_("file name"), max_length=255)
    file = models.FileField(_("file"), max_length=255)
    content_type = models.CharField(_("content type"), max_length=40)
    size = models.PositiveBigIntegerField(_("size"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    page_count = models.PositiveIntegerField(_("pages"))
    pages_done = models.PositiveIntegerField(_("pages done"), default=0)
    engine = models.CharField(_("engine"), max_length=20)
    language = models.CharField(_("language"), max_length=20)
    # OCR every page, as OCRmyPDF's --force-ocr: no PDF text layer is used, however good.
    force_ocr = models.BooleanField(_("OCR every page"), default=False)
    result_text = models.TextField(_("recognised text"), blank=True)
    error = models.CharField(_("error"), max_length=500, blank=True)
    # Why it failed, as a code pages translate (tasks.failures); error keeps the English.
    error_code = models.CharField(_("error code"), max_length=40, blank=True, default="")
    # The upload's request id, carried into the worker so one id links upload to result.
    request_id = models.CharField(_("request ID"), max_length=64, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    # Touched after every page: a processing task that stops beating was orphaned.
    heartbeat_at = models.DateTimeField(_("last sign of life"), null=True, blank=True)
    phase = models.CharField(
        _("phase"), max_length=12, choices=Phase.choices, blank=True, default=""
    )
    # The django-tasks job row running this attempt, ended too when the task is reclaimed.
    job_id = models.CharField(_("job ID"), max_length=64, blank=True)
    # Built by the worker when the task completes; downloads serve it as stored.
    searchable_pdf = models.FileField(_("searchable PDF"), max_length=255, blank=True)

    class Meta:
        # Not Django's "Ocr task": the admin's sidebar, breadcrumbs and headings, translated.
        verbose_name = _("OCR task")
        verbose_name_plural = _("OCR tasks")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["owner", "-created_at"], name="task_owner_created"),
            models.Index(fields=["status", "heartbeat_at"], name="task_status_heartbeat"),
            models.Index(fields=["created_at"], name="task_created"),
        ]

    def __str__(self) -> str:
        return f"{self.original_name} ({self.status})"

    @property
    def progress_percent(self) -> int:
        if self.status == Status.COMPLETED:
            return 100
        if not self.page_count:
            return 0
        return min(100, round(100 * self.pages_done / self.page_count))

    @property
    def current_phase(self) -> str:
        """Return "queued", "rendering", "reading", "building", or "" once finished."""
        if self.status == Status.QUEUED:
            return "queued"
        if self.status != Status.PROCESSING:
            return ""
        return self.phase or Phase.RENDERING

    @property
    def no_text_found(self) -> bool:
        """Return True for a completed task in which no page had any text."""
        return self.status == Status.COMPLETED and not self.result_text.replace("\f", "").strip()

    @property
    def phase_label(self) -> str:
        """Return what the task is doing, e.g. "Reading page 3 of 8", for page and API."""
        if self.status == Status.QUEUED:
            return str(_("Queued"))
        if self.status != Status.PROCESSING:
            return ""
        if self.phase == Phase.READING:
            return str(
                _("Reading page %(number)d of %(count)d")
                % {"number": min(self.pages_done + 1, self.page_count), "count": self.page_count}
            )
        if self.phase == Phase.BUILDING:
            return str(_("Building outputs"))
        return str(_("Rendering"))

    @property
    def failure_message(self) -> str:
        """Return why the task failed, in the reader's language where the code is known."""
        return failure_message(code=self.error_code, stored=self.error)

    @property
    def original_gone(self) -> bool:
        """Whether the task failed because its uploaded file is gone: nothing to show."""
        return self.status == Status.FAILED and original_missing(
            code=self.error_code, stored=self.error
        )

    @property
    def is_active(self) -> bool:
        return self.status in (Status.QUEUED, Status.PROCESSING)

    @property
    def seconds(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None


class OcrPage(models.Model):
    """The text of one page of a task, with the lines and boxes it came from."""

    task = models.ForeignKey(
        OcrTask, on_delete=models.CASCADE, related_name="pages", verbose_name=_("OCR task")
    )
    index = models.PositiveIntegerField(_("index"))
    text = models.TextField(_("text"), blank=True)
    confidence = models.FloatField(_("confidence"), null=True, blank=True)
    source = models.CharField(_("source"), max_length=12, choices=PageSource.choices)
    # [{"text": ..., "confidence": ..., "box": [x0, y0, x1, y1], "words": [{"text": ...,
    # "confidence": ..., "box": [...]}]}], boxes in page pixels; "words" is [] for RapidOCR
    # and for pages read before words were kept.
    lines = models.JSONField(_("lines"), default=list, blank=True)
    width = models.PositiveIntegerField(_("width"), default=0)
    height = models.PositiveIntegerField(_("height"), default=0)
    seconds = models.FloatField(_("seconds"), default=0)
    # Clockwise turns applied before OCR; lines, width and height are in the turned image.
    rotation = models.PositiveSmallIntegerField(_("rotation"), default=0)
    skew = models.FloatField(_("skew"), default=0)
    # False: which way up the page is could not be told, so it was read as scanned.
    orientation_certain = models.BooleanField(_("orientation certain"), default=True)
    # The page as it was read, when it was turned: what the preview and the PDF show.
    image = models.FileField(_("page image"), max_length=255, blank=True)
    # The task attempt that read the page. A reclaimed task keeps its stored pages, so a
    # page read before its worker died keeps the number of the attempt that read it.
    attempt = models.PositiveSmallIntegerField(_("attempt"), default=1)
    # The resolution a PDF page was rendered (or its text layer boxed) at; null otherwise.
    dpi = models.PositiveSmallIntegerField(_("resolution (dpi)"), null=True, blank=True)
    # Why the page was read at a lower resolution than asked, or not read at all (English).
    note = models.CharField(_("note"), max_length=300, blank=True)
    # What became of the page's PDF text layer: "used", "rejected: <reason>",
    # "ignored: <reason>"; "" when it has none.
    text_layer = models.CharField(_("PDF text layer"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("OCR page")
        verbose_name_plural = _("OCR pages")
        ordering = ["task", "index"]
        constraints = [
            models.UniqueConstraint(fields=["task", "index"], name="page_unique_index"),
        ]

    def __str__(self) -> str:
        return f"page {self.index + 1} of {self.task_id}"

    @property
    def number(self) -> int:
        return self.index + 1

    @property
    def no_text_found(self) -> bool:
        return not self.text.strip()
