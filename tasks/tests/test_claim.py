"""Workers claim tasks with row locks that touch nothing but the task itself."""

import threading

import pytest
from django.contrib.auth import get_user_model
from django.db import connections, transaction

from tasks.models import OcrTask, Status
from tasks.worker.processing import claim

pytestmark = [
    pytest.mark.django_db(transaction=True),
    # Row locks are a PostgreSQL matter.
    pytest.mark.postgresql,
]


def hold_lock_on(queryset) -> tuple[threading.Event, threading.Event, threading.Thread]:
    """Lock the rows of `queryset` from another connection until `release` is set."""
    locked, release = threading.Event(), threading.Event()

    def hold() -> None:
        try:
            with transaction.atomic():
                list(queryset.select_for_update())
                locked.set()
                release.wait(timeout=30)
        finally:
            connections.close_all()

    thread = threading.Thread(target=hold)
    thread.start()
    assert locked.wait(timeout=30)
    return locked, release, thread


def test_a_locked_owner_row_does_not_hide_the_task(user, make_task):
    # Another worker claiming a task of the same user, or Django updating
    # last_login, holds the user's row: the claim must not skip the task for it.
    task = make_task(user)
    _, release, thread = hold_lock_on(get_user_model().objects.filter(pk=user.pk))
    try:
        claimed = claim(task.pk)
    finally:
        release.set()
        thread.join()

    assert claimed is not None and claimed.pk == task.pk
    assert OcrTask.objects.get(pk=task.pk).status == Status.PROCESSING


def test_a_task_locked_by_another_worker_is_skipped(user, make_task):
    task = make_task(user)
    _, release, thread = hold_lock_on(OcrTask.objects.filter(pk=task.pk))
    try:
        claimed = claim(task.pk)
    finally:
        release.set()
        thread.join()

    assert claimed is None
    assert OcrTask.objects.get(pk=task.pk).status == Status.QUEUED
