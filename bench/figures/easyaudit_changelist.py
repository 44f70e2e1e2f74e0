"""Figure easyaudit-changelist: django-easy-audit 1.3.9's LoginEvent changelist vs ours.

Run by the bench with var/venv-easyaudit's interpreter and bench.easyaudit_settings:
    python -m bench.figures.easyaudit_changelist --info seed.json --out result.json
It seeds as many LoginEvent rows as the audit table holds, then loads both admin
changelists in turn (same users, addresses and 180 days) and reports the ratio.
"""

import argparse
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

VENV = Path(__file__).resolve().parents[2] / "var" / "venv-easyaudit"
EASY_AUDIT = "django-easy-audit==1.3.9"
LOCK = Path(__file__).resolve().parents[1] / "requirements-easyaudit.txt"
LOGIN_EVENTS = "/admin/easyaudit/loginevent/"
FIGURE = "easyaudit-changelist"


def ensure_venv() -> tuple[str, str]:
    """Return (python, '') for a venv with easy-audit on top of the service's packages.

    The venv sees the service's site-packages through a .pth file, so only easy-audit
    itself is installed there; the service's requirements never mention it.
    """
    from bench.peers.venv import throwaway_venv

    return throwaway_venv(
        venv=VENV, lock=LOCK, probe="import easyaudit", failed=f"{EASY_AUDIT} did not install"
    )


def seed_login_events(*, rows: int, info: dict) -> None:
    """Insert `rows` LoginEvent rows in bulk, spread like the audit events."""
    from django.db import connection, transaction
    from easyaudit.models import LoginEvent

    if LoginEvent.objects.exists():
        return
    rng = random.Random(11)
    users = info["user_ids"]
    ips = info["ips"]
    end = datetime.fromisoformat(info["last_timestamp"]).astimezone(UTC)
    start = datetime.fromisoformat(info["first_timestamp"]).astimezone(UTC)
    step_us = max(1, int((end - start).total_seconds() * 1_000_000 / rows))
    table = LoginEvent._meta.db_table
    columns = ("login_type", "username", "user_id", "remote_ip", "datetime")
    quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
    batch_size = 20_000
    for offset in range(0, rows, batch_size):
        batch = []
        for index in range(offset, min(rows, offset + batch_size)):
            user = rng.choice(users)
            kind = rng.choices((0, 1, 2), weights=(70, 20, 10))[0]
            when = start + timedelta(microseconds=index * step_us + rng.randrange(step_us))
            batch.append(
                (
                    kind,
                    f"user{user}",
                    None if kind == 2 else user,
                    rng.choice(ips),
                    connection.ops.adapt_datetimefield_value(when),
                )
            )
        with transaction.atomic(), connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                with cursor.cursor.copy(f"COPY {table} ({quoted}) FROM STDIN") as copy:
                    for values in batch:
                        copy.write_row(values)
            else:
                marks = ", ".join(["%s"] * len(columns))
                cursor.executemany(f"INSERT INTO {table} ({quoted}) VALUES ({marks})", batch)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"VACUUM ANALYZE {table}")


def run(ctx, env: dict[str, str], workdir: Path) -> None:
    """Migrate easy-audit's tables, then measure in its venv's process; collect the rows."""
    import subprocess

    from bench.databases import ROOT
    from bench.timing import Row

    python, problem = ensure_venv()
    if problem:
        ctx.add(Row(figure=FIGURE, backend=ctx.backend, case="(skipped)", note=problem))
        return
    ea_env = dict(env, DJANGO_SETTINGS_MODULE="bench.easyaudit_settings")
    migrate = subprocess.run(
        [python, str(ROOT / "manage.py"), "migrate", "easyaudit", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=ea_env,
        capture_output=True,
        text=True,
    )
    if migrate.returncode != 0:
        ctx.add(
            Row(
                figure=FIGURE,
                backend=ctx.backend,
                case="(skipped)",
                note=f"{EASY_AUDIT} migrate failed: {migrate.stderr.strip()[-300:]}",
            )
        )
        return
    info = workdir / "easyaudit-in.json"
    out = workdir / "easyaudit-out.json"
    info.write_text(json.dumps(ctx.as_dict()))
    subprocess.run(
        [
            python,
            "-m",
            "bench.figures.easyaudit_changelist",
            "--info",
            str(info),
            "--out",
            str(out),
        ],
        cwd=ROOT,
        env=ea_env,
        check=True,
    )
    # Already printed by the subprocess; only collected here.
    ctx.results += [Row(**row) for row in json.loads(out.read_text())]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--info", required=True, type=Path)
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args()
    import django

    django.setup()
    from bench.context import Context, get_ok
    from bench.figures.admin_changelist import FIGURE as OURS
    from bench.figures.admin_changelist import admin_urls
    from bench.seed import SeedInfo
    from bench.timing import Row, interleaved, median_ratio

    payload = json.loads(args.info.read_text())
    info = payload["seed"]
    seed_login_events(rows=payload["rows"], info=info)
    ctx = Context(
        backend=payload["backend"],
        rows=payload["rows"],
        quick=payload["quick"],
        seed=SeedInfo(**info),
    )
    client = ctx.staff_client()
    middle_of = datetime.fromisoformat(info["first_timestamp"])
    middle_of += (datetime.fromisoformat(info["last_timestamp"]) - middle_of) / 2
    theirs = {
        "unfiltered": LOGIN_EVENTS,
        "filtered event_type": f"{LOGIN_EVENTS}?login_type__exact=0",
        "date_hierarchy month": (
            f"{LOGIN_EVENTS}?datetime__year={middle_of.year}&datetime__month={middle_of.month}"
        ),
        "searched q=<ip>": f"{LOGIN_EVENTS}?q={info['ips'][0]}",
    }
    ours = admin_urls(ctx)
    for case, url in theirs.items():
        series = interleaved(
            {
                "ours": lambda n, u=ours[case]: get_ok(client, u),  # type: ignore[misc]  # mypy cannot infer a lambda with a default
                "easyaudit": lambda n, u=url: get_ok(client, u),  # type: ignore[misc]  # mypy cannot infer a lambda with a default
            },
            repeats=max(5, ctx.repeats // 2),
            budget_s=60,
        )
        ctx.add(
            Row(
                figure=FIGURE,
                backend=ctx.backend,
                case=case,
                p50=series["easyaudit"].p50_ms,
                p95=series["easyaudit"].p95_ms,
                value=median_ratio(series["easyaudit"], series["ours"]),
                value_label=f"x of {OURS}",
                target="report ratio",
                samples=len(series["easyaudit"].samples),
                note=f"ours here p50 {series['ours'].p50_ms:.0f} ms",
            )
        )
    args.out.write_text(json.dumps([row.as_dict() for row in ctx.results]))


if __name__ == "__main__":
    main()
