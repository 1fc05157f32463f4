"""What `make bench` measures and compares, in one place, and the sizes `make test` shrinks.

`make test` runs every benchmark body once with benchmarks disabled, so a benchmark that falls
behind the code fails CI; :func:`size` then picks the small input (``DATRIG_BENCH_SMALL=1``,
set by ``benchmarks/conftest.py`` whenever benchmarks are disabled). `make bench` measures:
:func:`record` keeps each rate or time, :func:`compare` declares a ratio of two of them, and
the conftest prints every ratio whose two sides were measured in this run and writes them to
``.benchmarks/datrig-summary.json``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

SMALL_ENV = "DATRIG_BENCH_SMALL"


def small() -> bool:
    return os.environ.get(SMALL_ENV) == "1"


def size(full: int, small_size: int) -> int:
    """``full`` when measuring, ``small_size`` when only checking that the body runs."""
    return small_size if small() else full


@dataclass(frozen=True)
class Result:
    value: float
    unit: str  # e.g. "events/s", "s/epoch", "trials/h"


@dataclass(frozen=True)
class Ratio:
    label: str
    numerator: str
    denominator: str


RESULTS: dict[str, Result] = {}
RATIOS: list[Ratio] = []


def record(benchmark: Any, name: str, value: float, unit: str) -> None:
    """Keep one measured number (also in the benchmark's ``extra_info``)."""
    benchmark.extra_info[name] = value
    RESULTS[name] = Result(value, unit)


def per_second(benchmark: Any, name: str, n_items: int, unit: str = "events/s") -> float | None:
    """``n_items`` / the benchmark's median time, recorded as ``name``; None when disabled."""
    if benchmark.stats is None:  # --benchmark-disable: the body ran once, nothing was timed
        return None
    value = n_items / benchmark.stats.stats.median
    record(benchmark, name, value, unit)
    return value


def median_seconds(benchmark: Any, name: str, unit: str = "s") -> float | None:
    """The benchmark's median time, recorded as ``name``; None when disabled."""
    if benchmark.stats is None:
        return None
    value = benchmark.stats.stats.median
    record(benchmark, name, value, unit)
    return value


def compare(label: str, numerator: str, denominator: str) -> None:
    """Declare ``numerator / denominator`` as a ratio to report (once per label)."""
    if all(r.label != label for r in RATIOS):
        RATIOS.append(Ratio(label, numerator, denominator))


def measured_ratios() -> list[tuple[Ratio, float]]:
    """Every declared ratio whose two sides were measured in this run."""
    return [
        (r, RESULTS[r.numerator].value / RESULTS[r.denominator].value)
        for r in RATIOS
        if r.numerator in RESULTS and r.denominator in RESULTS
    ]
