"""Tasks deleted, all or none, each on record as ``task_delete``."""

import uuid
from collections.abc import Iterable
from contextvars import ContextVar

from django.contrib.auth.models import User
from django.db import transaction

from audit.services import record_event

from ..models import OcrTask

# The tasks whose task_delete the deleting service has recorded: the post_delete
# receiver records only the deletions no service made (cascades, a shell).
recorded_deletions: ContextVar[frozenset[uuid.UUID]] = ContextVar(
    "recorded_deletions", default=frozenset()
)


def task_delete(*, task: OcrTask, actor: User | None, via: str) -> None:
    """Delete a task, its results and (after commit) its files; record task_delete."""
    task_delete_many(tasks=[task], actor=actor, via=via)


def task_delete_many(*, tasks: Iterable[OcrTask], actor: User | None, via: str) -> int:
    """Delete tasks, all or none, recording one task_delete each; return how many.

    ``via`` names the surface: page, api, admin or cleanup. Files go after the commit
    (tasks.receivers), so a rolled-back deletion never leaves a row without its file.
    """
    deleted = 0
    with transaction.atomic():
        for task in tasks:
            record_task_delete(task, actor=actor, via=via)
            token = recorded_deletions.set(recorded_deletions.get() | {task.pk})
            try:
                task.delete()
            finally:
                recorded_deletions.reset(token)
            deleted += 1
    return deleted


def record_task_delete(task: OcrTask, *, actor: User | None, via: str, **metadata) -> None:
    """Record that the task is being deleted: by whom, how, and what it was."""
    record_event(
        event_type="task_delete",
        user=actor,
        resource_type="task",
        resource_id=task.pk,
        metadata={
            "via": via,
            "owner": task.owner.get_username() if task.owner_id else "",
            "filename": task.original_name,
            "status": task.status,
            **metadata,
        },
    )
