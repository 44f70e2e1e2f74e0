"""Throwaway databases for the bench: a temporary SQLite file and a PostgreSQL database."""

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_VAR = ROOT / "var" / "bench"
PG_SERVER = os.environ.get("BENCH_PG_SERVER", "postgres://postgres@127.0.0.1:5432")
PG_DATABASE = os.environ.get("BENCH_PG_DATABASE", "ocr_bench")


@dataclass(frozen=True)
class BenchDatabase:
    """One backend under test: its name, DATABASE_URL and a private VAR_DIR."""

    backend: str
    url: str
    var_dir: Path

    def env(self, **extra: str) -> dict[str, str]:
        """Return the environment a bench subprocess runs with against this database."""
        env = dict(os.environ)
        env.update(
            {
                "DATABASE_URL": self.url,
                "VAR_DIR": str(self.var_dir),
                "DJANGO_SETTINGS_MODULE": "ocr_project.settings",
                "PYTHONPATH": str(ROOT),
                # The bench hammers the JWT refresh endpoint; the limit stays in the code
                # path (the throttle still runs) but must not answer 429 mid-measurement.
                "AUTH_THROTTLE_RATE": "1000000/min",
                "REFRESH_THROTTLE_RATE": "1000000/min",
                "UPLOAD_THROTTLE_RATE": "1000000/min",
                "AXES_ENABLED": "false",
                "DEBUG": "false",
            }
        )
        env.update(extra)
        return env


def sqlite_database(*, reuse: bool = False) -> BenchDatabase:
    """Return a fresh (or, with reuse, the existing) SQLite database under var/bench/sqlite."""
    var_dir = BENCH_VAR / "sqlite"
    var_dir.mkdir(parents=True, exist_ok=True)
    path = var_dir / "bench.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        if not reuse:
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    return BenchDatabase("sqlite", f"sqlite:///{path}", var_dir)


def _pg_admin_connect():
    import psycopg

    return psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True)


def postgres_available() -> str:
    """Return '' when the PostgreSQL server answers, else the reason it does not."""
    try:
        with _pg_admin_connect() as conn:
            conn.execute("SELECT 1")
    except Exception as error:
        return f"{type(error).__name__}: {error}"
    return ""


def drop_postgres() -> None:
    from psycopg import sql

    with _pg_admin_connect() as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(PG_DATABASE))
        )


def postgres_database(*, reuse: bool = False) -> BenchDatabase:
    """Return a freshly created PostgreSQL database (dropped first if it exists)."""
    from psycopg import sql

    if not reuse:
        drop_postgres()
        with _pg_admin_connect() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(PG_DATABASE)))
    var_dir = BENCH_VAR / "postgresql"
    var_dir.mkdir(parents=True, exist_ok=True)
    return BenchDatabase("postgresql", f"{PG_SERVER}/{PG_DATABASE}", var_dir)


def migrate(database: BenchDatabase, *, python: str = sys.executable, settings: str = "") -> None:
    """Run manage.py migrate against the database in a subprocess."""
    command = [python, str(ROOT / "manage.py"), "migrate", "--noinput", "-v", "0"]
    if settings:
        command.append(f"--settings={settings}")
    manage = [python, str(ROOT / "manage.py")]
    # The admin pages need the static manifest (WhiteNoise's manifest storage).
    static = [*manage, "collectstatic", "--noinput", "-v", "0"]
    for extra in (command, [*manage, "createcachetable"], static):
        subprocess.run(extra, check=True, cwd=ROOT, env=database.env())
