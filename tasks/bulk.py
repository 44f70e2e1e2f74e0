"""Actions on several of a user's tasks at once: read them again, download their results.

Bulk delete is tasks.services.deletion.task_delete_many; these sit beside it. The caller has
already narrowed the choice to the user's own tasks (selectors.task_list_for), so an id
of someone else's task does nothing at all. Each task keeps its own audit event: a
``task_retry`` for each task read again, a ``task_download`` for each task in a zip.

A bad choice (an id that is not one, no task of the user's, more than
OCR_BULK_MAX_TASKS) is refused whole with BulkRefused, whose ``status`` is the HTTP
answer: nothing is deleted, queued or zipped in part.
"""

import io
import uuid
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from django_stubs_ext import StrOrPromise

from .models import OcrTask, Status
from .services.downloads import record_task_download
from .services.engine_choice import EngineChoiceError, resolve_engine
from .services.retry import TaskError, task_rerun
from .storage import file_size
from .uploads import human_size

# The bounds are settings (OCR_BULK_MAX_TASKS, OCR_BULK_DOWNLOAD_MAX_BYTES), checked at
# start-up by tasks.checks (tasks.E008, tasks.E009).
DOWNLOAD_FORMATS = ("txt", "pdf")
CHUNK_BYTES = 64 * 1024


class BulkRefused(TaskError):
    """A bulk request refused whole, nothing done; ``code`` names why, ``status`` the answer."""

    status = 400

    def __init__(self, message: StrOrPromise, *, code: str) -> None:
        super().__init__(message)
        self.code = code


class BulkLimitError(BulkRefused):
    """More tasks, or more bytes, than one bulk action takes; the message says the bound."""

    status = 413

    def __init__(self, message: StrOrPromise, *, code: str = "too_many_tasks") -> None:
        super().__init__(message, code=code)


def chosen_ids(values: Iterable[str], *, skip_malformed: bool = False) -> set[uuid.UUID]:
    """Return the task ids a bulk request sent; raise BulkRefused if one is not an id.

    An empty value is no choice; anything else that is not a task id refuses the whole
    request, so a mangled form never acts on part of what was ticked. With
    ``skip_malformed`` it is left out instead: to tick again what was well formed.
    """
    ids = set()
    for value in values:
        value = value.strip()
        if not value:
            continue
        try:
            ids.add(uuid.UUID(value))
        except ValueError:
            if skip_malformed:
                continue
            # The value itself is not echoed: it is whatever the client sent.
            raise BulkRefused(
                _("The choice holds something that is not a task id; nothing was done."),
                code="malformed_id",
            ) from None
    return ids


def checked_choice(tasks: list[OcrTask], *, nothing: StrOrPromise) -> list[OcrTask]:
    """Return the chosen tasks if one bulk action may take them; else raise BulkRefused.

    ``tasks`` are the user's own among the ids sent: ids of other users' tasks match
    nothing and count for nothing, and none found at all is refused with ``nothing``.
    """
    if not tasks:
        raise BulkRefused(nothing, code="no_task")
    too_many_tasks(len(tasks))
    return tasks


def too_many_tasks(count: int) -> None:
    """Raise BulkLimitError when ``count`` tasks are more than one bulk request takes."""
    limit = settings.OCR_BULK_MAX_TASKS
    if count > limit:
        raise BulkLimitError(
            format_lazy(
                _("{count} tasks chosen; at most {limit} at once. Choose fewer."),
                count=count,
                limit=limit,
            )
        )


def rerun_limit() -> int:
    """Return how many tasks one bulk re-run may queue: as many as one upload may."""
    # One request, one token of the upload rate limit, at most the worker load an upload
    # can bring: so a bulk re-run is never a way around OCR_MAX_FILES_PER_REQUEST.
    return settings.OCR_MAX_FILES_PER_REQUEST


def rerun_refusal(task: OcrTask) -> StrOrPromise | None:
    """Return why the task cannot be read again now, or None when it can."""
    if task.status in (Status.COMPLETED, Status.FAILED):
        return None
    return _("not finished yet")


@dataclass
class RerunOutcome:
    """The tasks a re-run queues (or would), and those it leaves with the reason."""

    queued: list[OcrTask] = field(default_factory=list)
    # (task, why it was left as it was)
    skipped: list[tuple[OcrTask, StrOrPromise]] = field(default_factory=list)


def rerun_choice(tasks: Iterable[OcrTask]) -> RerunOutcome:
    """Return which of the tasks a re-run would queue and which it would leave, and why."""
    choice = RerunOutcome()
    for task in tasks:
        reason = rerun_refusal(task)
        if reason is None:
            choice.queued.append(task)
        else:
            choice.skipped.append((task, reason))
    return choice


def rerun_over_limit(count: int) -> StrOrPromise | None:
    """Return why ``count`` finished tasks are too many to read again at once, or None."""
    limit = rerun_limit()
    if count <= limit:
        return None
    return format_lazy(
        _(
            "{count} finished tasks chosen; at most {limit} can be read again at once. "
            "Choose fewer."
        ),
        count=count,
        limit=limit,
    )


def tasks_rerun(
    *,
    tasks: Iterable[OcrTask],
    actor: User,
    engine: str | None,
    language: str | None,
    force_ocr: bool,
) -> RerunOutcome:
    """Read each finished task again (one ``task_retry`` each); skip those still running.

    With neither ``engine`` nor ``language``, each task keeps its own. Raise
    BulkLimitError above rerun_limit() tasks that can be read, EngineChoiceError for an
    engine or language this service does not offer; then nothing is queued.
    """
    tasks = list(tasks)
    too_many_tasks(len(tasks))
    keep_own = not engine and not language
    if not keep_own:
        # Checked once, before any task is touched: a bad choice queues nothing.
        engine, language = resolve_engine(engine=engine, language=language)
    choice = rerun_choice(tasks)
    readable = choice.queued
    refusal = rerun_over_limit(len(readable))
    if refusal is not None:
        raise BulkLimitError(refusal)
    outcome = RerunOutcome(skipped=choice.skipped)
    for task in readable:
        try:
            task_rerun(
                task=task,
                actor=actor,
                engine=task.engine if keep_own else engine,
                language=task.language if keep_own else language,
                force_ocr=force_ocr,
                batch=len(readable),
            )
        except TaskError:
            # It started running since the page was drawn (a retry in another tab).
            outcome.skipped.append((task, _("not finished yet")))
        except OcrTask.DoesNotExist:
            # Deleted since the page was drawn (another tab, the cleanup): nothing to read.
            outcome.skipped.append((task, _("deleted meanwhile")))
        except EngineChoiceError as error:
            # Its own engine is no longer offered here (keep_own): the others still go.
            outcome.skipped.append((task, str(error).rstrip(".。")))
        else:
            outcome.queued.append(task)
    return outcome


@dataclass(frozen=True)
class ArchiveEntry:
    task: OcrTask
    name: str
    size: int


@dataclass
class DownloadPlan:
    """What a zip of the chosen tasks' results would hold, and what it would leave out."""

    fmt: str
    entries: list[ArchiveEntry] = field(default_factory=list)
    left_out: list[tuple[OcrTask, StrOrPromise]] = field(default_factory=list)

    @property
    def total_bytes(self) -> int:
        return sum(entry.size for entry in self.entries)

    @property
    def refused(self) -> BulkRefused | None:
        """Return why this zip is not made (empty, or over the bound), or None."""
        if not self.entries:
            return BulkRefused(
                _("None of the chosen tasks has this result to download."), code="no_result"
            )
        limit = settings.OCR_BULK_DOWNLOAD_MAX_BYTES
        if self.total_bytes > limit:
            return BulkLimitError(
                format_lazy(
                    _(
                        "The chosen results come to {size}; a download takes at most {limit}. "
                        "Choose fewer tasks."
                    ),
                    size=human_size(self.total_bytes),
                    limit=human_size(limit),
                ),
                code="too_large",
            )
        return None

    @property
    def refusal(self) -> StrOrPromise | None:
        """Return the message of ``refused``, for the page that shows the plan."""
        refused = self.refused
        return refused.args[0] if refused is not None else None


ENTRY_STEM_BYTES = 200


def entry_stem(task: OcrTask) -> str:
    """Return a file name for the task inside a zip: no folders, no leading dots."""
    stem = task.original_name.rsplit(".", 1)[0]
    # An entry named "../x" or "/etc/x" would be written outside the folder by some
    # unzip tools; the original name is only data.
    stem = stem.replace("/", "_").replace("\\", "_").lstrip(". ")
    # Most file systems take at most 255 bytes a name: unzip stops at a longer entry.
    # Room is left for " (2)" and the extension.
    stem = stem.encode()[:ENTRY_STEM_BYTES].decode(errors="ignore").rstrip()
    return stem or "result"


def unique_name(name: str, taken: set[str]) -> str:
    """Return ``name``, or "name (2).ext" and so on when a zip already holds it."""
    stem, dot, ext = name.rpartition(".")
    candidate, number = name, 1
    while candidate.lower() in taken:
        number += 1
        candidate = f"{stem} ({number}){dot}{ext}"
    taken.add(candidate.lower())
    return candidate


def plan_download(*, tasks: Iterable[OcrTask], fmt: str) -> DownloadPlan:
    """Return which of the tasks' results (``txt`` or ``pdf``) a zip would hold, and sizes."""
    if fmt not in DOWNLOAD_FORMATS:
        raise BulkRefused(
            format_lazy(
                _("Unknown format; choose one of: {choices}."), choices=", ".join(DOWNLOAD_FORMATS)
            ),
            code="unknown_format",
        )
    tasks = list(tasks)
    too_many_tasks(len(tasks))
    plan = DownloadPlan(fmt=fmt)
    taken: set[str] = set()
    # Text sizes from the database one at a time: the texts are not kept in memory.
    text_bytes = {}
    if fmt == "txt":
        done = [task.pk for task in tasks if task.status == Status.COMPLETED]
        rows = OcrTask.objects.filter(pk__in=done)
        for pk, text in rows.values_list("pk", "result_text").iterator():
            text_bytes[pk] = len(text.encode())
    for task in tasks:
        if task.status != Status.COMPLETED:
            plan.left_out.append((task, _("no result yet")))
            continue
        if fmt == "txt":
            size = text_bytes.get(task.pk, 0)
            name = f"{entry_stem(task)}.txt"
        else:
            stored = file_size(task.searchable_pdf.name) if task.searchable_pdf.name else None
            if stored is None:
                plan.left_out.append((task, _("no searchable PDF")))
                continue
            size, name = stored, f"{entry_stem(task)}-searchable.pdf"
        plan.entries.append(ArchiveEntry(task=task, name=unique_name(name, taken), size=size))
    return plan


class StreamSink:
    """A write-only file for zipfile that hands on what was written, piece by piece.

    zipfile writes to a file without tell()/seek() by putting each entry's sizes after
    its data (a data descriptor), so the archive never has to be held whole.
    """

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data: bytes, /) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def drain(self) -> bytes:
        data = b"".join(self.parts)
        self.parts.clear()
        return data


def archive_name(fmt: str) -> str:
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    return f"ocr-{'texts' if fmt == 'txt' else 'searchable-pdfs'}-{stamp}.zip"


def tasks_download(*, plan: DownloadPlan, actor: User, via: str) -> Iterator[bytes]:
    """Record one ``task_download`` per task in the zip, then return the zip's bytes.

    Raise plan.refused (BulkRefused, nothing recorded) when the zip is not made.
    Recorded before the first byte goes: once streaming starts, the copies have left.
    """
    refused = plan.refused
    if refused is not None:
        raise refused
    with transaction.atomic():
        for entry in plan.entries:
            record_task_download(
                task=entry.task,
                actor=actor,
                via=via,
                fmt=plan.fmt,
                size=entry.size,
                archive=True,
                batch=len(plan.entries),
            )
    return zip_stream(plan)


def zip_stream(plan: DownloadPlan) -> Iterator[bytes]:
    """Yield the zip of the plan's entries, a chunk at a time."""
    sink = StreamSink()
    # Texts compress well; a PDF is compressed inside already, so it is stored as is.
    method = zipfile.ZIP_DEFLATED if plan.fmt == "txt" else zipfile.ZIP_STORED
    with zipfile.ZipFile(sink, mode="w", compression=method) as archive:
        for entry in plan.entries:
            info = zipfile.ZipInfo(entry.name, date_time=entry_time(entry.task))
            info.compress_type = method
            try:
                source = open_result(entry.task, plan.fmt)
            except FileNotFoundError:
                # Gone since the plan was made (a delete in another tab): say so inside.
                archive.writestr(f"{entry.name}.missing.txt", "This result is no longer stored.\n")
                yield sink.drain()
                continue
            with source, archive.open(info, mode="w") as target:
                while chunk := source.read(CHUNK_BYTES):
                    target.write(chunk)
                    yield sink.drain()
            yield sink.drain()
    yield sink.drain()


def entry_time(task: OcrTask) -> tuple[int, int, int, int, int, int]:
    moment = timezone.localtime(task.finished_at or task.created_at)
    # The zip format cannot hold a date before 1980.
    return max(
        (moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second),
        (1980, 1, 1, 0, 0, 0),
    )


def open_result(task: OcrTask, fmt: str):
    """Open one task's result for reading, in binary."""
    if fmt == "pdf":
        return task.searchable_pdf.open("rb")
    text = OcrTask.objects.filter(pk=task.pk).values_list("result_text", flat=True).first()
    if text is None:
        raise FileNotFoundError(task.pk)
    return io.BytesIO(text.encode())
