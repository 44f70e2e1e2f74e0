"""Worker heartbeat: keep the task in hand alive, and take back tasks of workers that died.

One thread per worker process (started by the `ocr_worker` command) wakes every
OCR_STALE_AFTER_SECONDS / 6: it touches the heartbeat of the task this process is reading,
so a long page is never mistaken for a dead worker, and it reclaims tasks whose worker
stopped beating, so an orphan is taken back on a timer and not only when new work arrives.
The reclaiming is a service (tasks.services.reclaim) that the command starting
the thread hands it, so the worker package imports no service that imports the worker.
"""

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connections
from django.utils import timezone

from audit.outage import CONNECTION_LOST, summary

logger = logging.getLogger(__name__)

_in_hand: dict[str, Any] = {}
_in_hand_lock = threading.Lock()


@contextmanager
def beating(*, task_id, attempts: int) -> Iterator[None]:
    """Mark the task as the one this process is working on, for the enclosed block."""
    with _in_hand_lock:
        _in_hand.update(task_id=task_id, attempts=attempts)
    try:
        yield
    finally:
        with _in_hand_lock:
            _in_hand.clear()


def interval_seconds() -> float:
    """Return how often a worker beats: six beats fit in the time that declares it dead."""
    return max(0.5, settings.OCR_STALE_AFTER_SECONDS / 6)


def beat(reclaim: Callable[[], object]) -> None:
    """Touch the heartbeat of the task in hand, then reclaim the tasks of dead workers."""
    from ..models import OcrTask, Status

    with _in_hand_lock:
        in_hand = dict(_in_hand)
    if in_hand:
        OcrTask.objects.filter(
            pk=in_hand["task_id"], status=Status.PROCESSING, attempts=in_hand["attempts"]
        ).update(heartbeat_at=timezone.now())
    reclaim()


class Heartbeat(threading.Thread):
    """The daemon thread that calls beat() every interval_seconds() until stopped."""

    def __init__(self, *, reclaim: Callable[[], object]) -> None:
        super().__init__(name="ocr-heartbeat", daemon=True)
        self.reclaim = reclaim
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(interval_seconds()):
            try:
                close_old_connections()
                beat(self.reclaim)
            except CONNECTION_LOST as error:
                # A restarting database: one line a beat, not a traceback; the next beat
                # tries again.
                logger.warning("Worker heartbeat failed (%s); retrying", summary(error))
            except DatabaseError:
                logger.warning("Worker heartbeat failed; retrying", exc_info=True)
            finally:
                connections.close_all()

    def stop(self) -> None:
        self.stopped.set()
