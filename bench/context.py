"""What every figure gets: the backend, the seeded data, the run size and HTTP clients."""

import random
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.test import Client

from bench.seed import STAFF_USERNAME, SeedInfo
from bench.timing import Row


@dataclass
class Context:
    backend: str
    rows: int
    quick: bool
    seed: SeedInfo
    results: list[Row] = field(default_factory=list)
    explain: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    # figure -> (1-minute load average before, after, seconds taken)
    loads: dict[str, tuple[float, float, float]] = field(default_factory=dict)

    @property
    def repeats(self) -> int:
        return 8 if self.quick else 30

    def rng(self, salt: str) -> random.Random:
        return random.Random(f"{self.backend}-{salt}")

    def add(self, row: Row) -> Row:
        self.results.append(row)
        print(format_row(row), flush=True)
        return row

    def staff_client(self) -> Client:
        """Return a test client logged in as the bench superuser (session auth)."""
        client = Client(REMOTE_ADDR="198.51.100.7", HTTP_USER_AGENT="bench/1.0")
        client.force_login(get_user_model().objects.get(username=STAFF_USERNAME))
        return client

    def as_dict(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "rows": self.rows,
            "quick": self.quick,
            "seed": self.seed.as_dict(),
            "results": [row.as_dict() for row in self.results],
            "explain": self.explain,
            "notes": self.notes,
            "loads": self.loads,
        }


def format_row(row: Row) -> str:
    def num(value):
        return "-" if value is None else f"{value:,.1f}"

    verdict = {True: "ok", False: "MISS", None: ""}[row.ok]
    return (
        f"[{row.backend}] fig {row.figure} {row.case}: p50 {num(row.p50)} p95 {num(row.p95)} "
        f"{row.unit} {row.value_label} {num(row.value)} target {row.target} {verdict} {row.note}"
    )


def get_ok(client: Client, url: str, **headers: Any):
    """GET `url` and return the response, which must be a 200: a figure never times errors."""
    response = client.get(url, **headers)
    assert response.status_code == 200, (url, response.status_code, response.content[:300])
    return response
