"""GET /healthz: may a load balancer send this process requests?

Checks what every page needs and a restart can break: the database answers, its
migrations are applied, and the file storage takes a write. 200 with each check's
result, or 503 naming the one that failed. No login, no session, no audit event: a
load balancer asks every few seconds and must not fill the trail.
"""

import logging
import uuid
from collections.abc import Callable

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

logger = logging.getLogger(__name__)

# Where the storage probe writes (and at once deletes) its file.
PROBE_PREFIX = "health/"

# Loading the migration graph costs tens of milliseconds; once this process has seen
# every migration applied it stays so (migrations are not unapplied under a running site).
_migrated = False


def database() -> None:
    """Run SELECT 1 on the default database."""
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def migrations() -> None:
    """Raise unless every migration is applied (remembered once true)."""
    global _migrated
    if _migrated:
        return
    executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
    if executor.migration_plan(executor.loader.graph.leaf_nodes()):
        raise RuntimeError("unapplied migrations")
    _migrated = True


def storage() -> None:
    """Write a small file through the default storage, then delete it."""
    # A name of its own: health checks of several processes run at the same time.
    name = default_storage.save(f"{PROBE_PREFIX}{uuid.uuid4().hex}.txt", ContentFile(b"ok"))
    default_storage.delete(name)


CHECKS: dict[str, Callable[[], None]] = {
    "database": database,
    "migrations": migrations,
    "storage": storage,
}


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """Answer 200 when every check passes, else 503; each check says "ok" or "failed"."""
    results = {}
    for name, check in CHECKS.items():
        try:
            check()
        except Exception as error:
            # The reason goes to the log, not the answer: anyone may ask this URL.
            logger.warning("Health check %s failed: %s: %s", name, type(error).__name__, error)
            results[name] = "failed"
        else:
            results[name] = "ok"
    healthy = all(result == "ok" for result in results.values())
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", "checks": results},
        status=200 if healthy else 503,
    )
