"""The sealer's loop: a batch every interval under the lease, released on a clean stop."""

import logging

from django.db import connection

from ..lease import sealer_lease
from ..outage import CONNECTION_LOST, wait_for_database
from ..siem.streamer import stream_round
from .batches import seal_pending
from .heads import HeadMoved

# Diagnostics, on standard error; the SIEM stream has a sink of its own (audit/siem).
logger = logging.getLogger("audit_sealer")


def run_sealer(*, interval: float, stop=lambda: False) -> None:
    """Seal, then stream what is sealed, every `interval` seconds until `stop()` says so.

    On the way out (stop, Ctrl-C, SIGTERM turned into a stop) the sealer lease is given
    up, so a standby sealer seals at its next round rather than after the lease expires.
    """
    import time

    try:
        while not stop():
            started = time.monotonic()
            try:
                sealed = seal_pending(lease=sealer_lease)
                if sealed:
                    logger.debug("sealed %d events", sealed)
                # Also with AUDIT_SEALING=inline: the sealer is the stream's one writer.
                stream_round(lease=sealer_lease)
            except CONNECTION_LOST as error:  # a database restart: wait, not a traceback a round
                wait_for_database(error, what="Audit sealer", logger=logger, stop=stop)
            except HeadMoved as error:  # tampering, said plainly each round until it is undone
                logger.error("not sealing: %s", error)
            except Exception:  # a failed round is retried next round, never the end of the loop
                logger.exception("sealing failed; retrying")
            finally:
                connection.close_if_unusable_or_obsolete()
            time.sleep(max(0.0, interval - (time.monotonic() - started)))
    finally:
        release_lease()


def release_lease() -> None:
    """Give up this process's sealer lease; if the database will not hear it, let it expire."""
    try:
        sealer_lease.release()
    except Exception as error:  # the way out of a lost database or an interrupted query
        logger.warning(
            "could not release the sealer lease (%s): a standby takes over once it expires",
            error,
        )
    finally:
        connection.close_if_unusable_or_obsolete()
