"""A task's result or original handed out, on record as ``task_download``."""

from django.contrib.auth.models import User

from audit.services import record_event

from ..models import OcrTask


def record_task_download(
    *, task: OcrTask, actor: User, via: str, fmt: str, size: int, **metadata
) -> None:
    """Record that the task's result (or its original, ``fmt="original"``) is handed out.

    Called by whatever serves the bytes (tasks.web.downloads, tasks.bulk) before the
    first one goes, for the page and the API alike: a copy that left is on the record,
    and a download that fails before that (no such result) records nothing. ``size`` is
    in bytes; the client (address, agent, request id) is the request being served.
    """
    record_event(
        event_type="task_download",
        user=actor,
        resource_type="task",
        resource_id=task.pk,
        metadata={
            "via": via,
            "format": fmt,
            "filename": task.original_name,
            "size": size,
            "pages": task.page_count,
            **metadata,
        },
    )
