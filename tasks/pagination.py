"""Pages of a user's tasks, for the task list and the API, counted from indexes.

The pager needs a count, and on PostgreSQL the planner counts a text search for a word
found in nearly every document with a sequential scan that reads each row's tsvector
from TOAST, which it costs as if it were free. The GIN index answers a plain word
exactly, so a bitmap of it counts the same rows in a small fraction of the time
(docs/benchmark-notes.md has the figures; bench/figures/search.py measures the page).
For the count alone, PostgreSQL is told to use bitmaps (the GIN index's, or the owner
index's when there is no search).
"""

from collections.abc import Iterator
from contextlib import contextmanager

from django.core.paginator import Paginator
from django.db import connection, transaction
from django.utils.functional import cached_property
from rest_framework.pagination import PageNumberPagination

from audit.api.pagination import BoundedPageSize


@contextmanager
def counting_from_indexes() -> Iterator[None]:
    """Within the block, plan PostgreSQL queries with bitmap and index-only scans only.

    The settings are local to the transaction, one opened for the block when there is
    none; inside a caller's transaction they are put back as they were at its end.
    """
    if connection.vendor != "postgresql":
        yield
        return
    # Inside a caller's transaction the settings would outlive the block: put them back.
    restore = connection.in_atomic_block
    with transaction.atomic(), connection.cursor() as cursor:
        if restore:
            cursor.execute(
                "SELECT current_setting('enable_seqscan'), current_setting('enable_indexscan')"
            )
            before = cursor.fetchone()
        cursor.execute(
            "SELECT set_config('enable_seqscan', 'off', true), "
            "set_config('enable_indexscan', 'off', true)"
        )
        yield
        # After an error there is nothing to put back: the rollback undoes the settings.
        if restore:
            cursor.execute(
                "SELECT set_config('enable_seqscan', %s, true), "
                "set_config('enable_indexscan', %s, true)",
                before,
            )


class TaskPaginator(Paginator):
    """Django's Paginator, counting through counting_from_indexes()."""

    @cached_property
    def count(self) -> int:
        with counting_from_indexes():
            return super().count


class TaskPagination(BoundedPageSize, PageNumberPagination):
    """The API's page numbers, counted as the task list page counts them."""

    django_paginator_class = TaskPaginator
    page_size = 50
    max_page_size = 200
