"""Whether the trail's background work keeps up: sealing, the sealer lease, checkpoints.

A chain that verifies says nothing about events that are not in it yet. These are the
states in which recorded events stop reaching the chain (or its checkpoints) while
every link still holds; verify_audit_chain exits 3 on any of them and the dashboard
shows them in red beside its verdict.
"""

from dataclasses import dataclass

from django.conf import settings
from django.db import connection

from .lease import CHECKPOINT_SIGNER, SEALER, database_now, lease_state
from .sealing.backlog import Backlog, unsealed_backlog


@dataclass(frozen=True)
class Problem:
    """One way the trail is falling behind, as one sentence."""

    kind: str  # "future", "backlog", "sealer_lease" or "checkpoint_signer"
    message: str

    def __str__(self) -> str:
        return self.message


def stale_after_seconds() -> float:
    """Return how long an event may wait unsealed: the window plus one lease (a takeover)."""
    return settings.AUDIT_SEAL_WINDOW_SECONDS + settings.AUDIT_SEALER_LEASE_SECONDS


def health_problems(backlog: Backlog | None = None) -> list[Problem]:
    """Return what keeps recorded events from being sealed and checkpointed, if anything."""
    backlog = backlog or unsealed_backlog()
    now = database_now()
    clock = "the database's clock" if connection.vendor == "postgresql" else "this host's clock"
    problems = []
    if backlog.ahead:
        problems.append(
            Problem(
                "future",
                f"{backlog.ahead:,} unsealed event{'s' if backlog.ahead > 1 else ''} stamped "
                f"up to {backlog.ahead_seconds or 0.0:,.1f} s ahead of {clock}: a writer's "
                "clock runs ahead, and its events stay unsealed (and out of every listing) "
                "until the clock gets there",
            )
        )
    limit = stale_after_seconds()
    if (backlog.oldest_seconds or 0.0) > limit:
        problems.append(
            Problem(
                "backlog",
                f"the oldest unsealed event has waited {backlog.oldest_seconds:,.1f} s, longer "
                f"than AUDIT_SEAL_WINDOW_SECONDS + AUDIT_SEALER_LEASE_SECONDS ({limit:g} s): "
                "no sealer is sealing (manage.py audit_sealer)",
            )
        )
    if settings.AUDIT_SEALING == "background":
        lease = lease_state(SEALER)
        if lease is not None and lease.holder and lease.expires_at < now:
            late = (now - lease.expires_at).total_seconds()
            problems.append(
                Problem(
                    "sealer_lease",
                    f"the sealer lease of {lease.holder} (generation {lease.generation}) "
                    f"expired {late:,.1f} s ago and no sealer renewed or took it over: "
                    "no sealer is running (manage.py audit_sealer)",
                )
            )
    signer = lease_state(CHECKPOINT_SIGNER)
    if signer is not None and signer.expires_at < now:
        late = (now - signer.renewed_at).total_seconds()
        problems.append(
            Problem(
                "checkpoint_signer",
                f"the checkpoint signer ({signer.holder}) was last seen {late:,.1f} s ago, "
                f"past its period (until {signer.expires_at.isoformat()}): no automatic "
                "checkpoints are being signed (manage.py ocr_worker)",
            )
        )
    return problems
