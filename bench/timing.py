"""Time things the same way everywhere: interleaved sides, medians and p95."""

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import Any


def percentile(values: Sequence[float], fraction: float) -> float:
    """Return the value below which `fraction` of the samples fall (nearest rank)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[rank]


@dataclass
class Row:
    """One line of the report table."""

    figure: str
    backend: str
    case: str
    unit: str = "ms"
    p50: float | None = None
    p95: float | None = None
    value: float | None = None
    value_label: str = ""
    target: str = ""
    ok: bool | None = None
    note: str = ""
    samples: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def time_once(call: Callable[[], Any]) -> float:
    """Return the seconds one call takes."""
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


@dataclass
class Series:
    """Samples of one side, in seconds."""

    samples: list[float] = field(default_factory=list)

    @property
    def p50_ms(self) -> float:
        return statistics.median(self.samples) * 1000

    @property
    def p95_ms(self) -> float:
        return percentile(self.samples, 0.95) * 1000


def interleaved(
    sides: dict[str, Callable[[int], Any]],
    *,
    repeats: int,
    warmup: int = 1,
    budget_s: float | None = None,
    min_rounds: int = 3,
) -> dict[str, Series]:
    """Run every side once per round, in turn, and return each side's samples.

    Each call gets the round number, so both sides of a round see the same input.
    The order of sides alternates between rounds so neither always runs first.
    With a budget, rounds stop once it is spent (after at least `min_rounds`): a
    page that takes ten seconds is a finding after three samples, not thirty.
    """
    started = time.perf_counter()
    names = list(sides)
    for index in range(warmup):
        for name in names:
            sides[name](-1 - index)
    series = {name: Series() for name in names}
    for round_number in range(repeats):
        spent = time.perf_counter() - started
        if budget_s is not None and round_number >= min_rounds and spent > budget_s:
            break
        order = names if round_number % 2 == 0 else list(reversed(names))
        for name in order:
            series[name].samples.append(time_once(partial(sides[name], round_number)))
    return series


def median_ratio(numerator: Series, denominator: Series) -> float:
    """Return the median of the per-round ratios numerator / denominator."""
    ratios = [a / b for a, b in zip(numerator.samples, denominator.samples, strict=True) if b > 0]
    return statistics.median(ratios) if ratios else float("nan")
