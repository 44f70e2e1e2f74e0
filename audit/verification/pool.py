"""Run the parts of a long chain in worker processes (spawned, each with Django of its own)."""

import logging
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from django.db import connection

from .parallel import Part, PartOutcome

logger = logging.getLogger("chain_verification")


def outcomes_in_processes(parts: list[Part]) -> list[PartOutcome] | None:
    """Verify the parts in worker processes; None if the processes could not run them.

    A machine without working process pools (no /dev/shm in a container, say) or a
    worker killed mid-way (out of memory) is not a verdict on the chain: the caller
    then walks it in this process instead.
    """
    from . import worker

    try:
        with ProcessPoolExecutor(
            max_workers=len(parts),
            # spawn, not fork: a fresh interpreter shares no connection or lock with this one.
            mp_context=multiprocessing.get_context("spawn"),
            initializer=worker.start,
            initargs=(connection.settings_dict["NAME"],),
        ) as pool:
            return list(pool.map(worker.verify_part, parts))
    except (OSError, BrokenProcessPool) as error:
        logger.warning("Verifying in one process: worker processes failed (%s)", error)
        return None
