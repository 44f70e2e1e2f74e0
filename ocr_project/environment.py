"""How ocr_project/settings.py reads the environment: typed variables, secrets, the database.

Only settings.py imports this. The variables themselves are named there, each beside the
setting it feeds (and in the README's configuration table, which a test keeps in step);
this module knows how to read a value, never which one.
"""

import os
import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from ocr_project.common.atomic_files import atomic_write


def env_bool(name: str, default: bool = False) -> bool:
    """Return an environment flag; '1', 'true', 'yes' and 'on' count as true."""
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    """Return an integer environment variable or the default."""
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def env_list(name: str, default: list[str]) -> list[str]:
    """Return a comma-separated environment variable as a list."""
    value = os.environ.get(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


class SecretFiles:
    """Secrets from the environment, else from files generated once in ``directory``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        # Names of the secrets taken from a generated file instead of the environment:
        # fine on a laptop, an error (audit.E006) once the site serves other hosts.
        self.generated: list[str] = []

    def persistent_secret(self, env_name: str, filename: str) -> str:
        """Return a secret from the environment, else from a generated git-ignored file."""
        value = os.environ.get(env_name, "").strip()
        if value:
            return value
        self.generated.append(env_name)
        path = self.directory / filename
        if not path.exists():
            self.directory.mkdir(parents=True, exist_ok=True)
            # Several processes may start at once on a fresh VAR_DIR (web, worker,
            # collectstatic). Each writes a complete candidate under a private name, then
            # hard-links it into place: the link is atomic and refuses an existing name, so
            # the first one wins, nobody reads a half-written file, and every process ends
            # up with the same key. Owner-only permissions; never committed (var/ is ignored).
            try:
                with atomic_write(path, overwrite=False) as handle:
                    handle.write(secrets.token_urlsafe(50))
            except FileExistsError:
                pass  # another process published its key first; use that one
        value = path.read_text().strip()
        if not value:
            raise ImproperlyConfigured(f"{path} is empty: delete it to generate a new {env_name}")
        return value


def database_settings(
    *,
    url: str,
    conn_max_age: int,
    application_name: str,
    sqlite_busy_timeout: int,
    sqlite_test_name: str,
) -> dj_database_url.DBConfig:
    """Return the default database's settings for ``url``, tuned for its engine."""
    database = dj_database_url.parse(
        url,
        conn_max_age=conn_max_age,
        # A connection kept open (DB_CONN_MAX_AGE) is checked before a request or a
        # worker round reuses it: after a database restart every process held a dead
        # one, and each web worker answered its next request with a 500.
        conn_health_checks=True,
    )
    # Names the process in pg_stat_activity (web, worker, sealer), so an operator, or a
    # test, can tell whose connection is whose; beside any options the URL carries.
    if application_name and database["ENGINE"] == "django.db.backends.postgresql":
        database.setdefault("OPTIONS", {})["application_name"] = application_name
    if database["ENGINE"] == "django.db.backends.sqlite3":
        database["OPTIONS"] = {
            # IMMEDIATE takes SQLite's write lock at BEGIN, so concurrent writers queue on
            # the busy timeout instead of failing with "database is locked" on upgrade.
            "transaction_mode": "IMMEDIATE",
            "timeout": sqlite_busy_timeout,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
        database["TEST"] = {"NAME": sqlite_test_name}
    return database


def file_storage_options(
    backend: str, *, s3_bucket_name: str, s3_endpoint_url: str | None, s3_region_name: str | None
) -> dict[str, object]:
    """Return the OPTIONS of the uploads' storage ``backend``: none but for S3's bucket."""
    if not backend.startswith("storages.backends.s3"):
        return {}
    return {
        "bucket_name": s3_bucket_name,
        "endpoint_url": s3_endpoint_url,
        "region_name": s3_region_name,
        # Documents are private: served only through the owner-checked download views.
        "default_acl": None,
        "querystring_auth": True,
        "file_overwrite": False,
    }
