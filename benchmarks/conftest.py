"""Benchmark settings: small inputs when benchmarks are disabled (`make test`), the same
thread settings as the tests, and one summary of every measured ratio (`make bench`)."""

from __future__ import annotations

import datetime
import os
import platform
from pathlib import Path

import pytest

from benchmarks import results
from benchmarks.mlp_project import mlp_case  # noqa: F401  (a session fixture)

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("DATRIG_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

SUMMARY = Path(".benchmarks") / "datrig-summary.json"


def _disabled(config: pytest.Config) -> bool:
    return bool(
        config.getoption("benchmark_disable", False)
        and not config.getoption("benchmark_enable", False)
    )


def pytest_configure(config: pytest.Config) -> None:
    if _disabled(config):
        os.environ.setdefault(results.SMALL_ENV, "1")


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    if not results.RESULTS:
        return
    from datrig.atomic import write_json

    when = datetime.datetime.now().astimezone()
    tr = terminalreporter
    tr.section(f"datrig benchmark summary ({when:%Y-%m-%d %H:%M %Z}, {os.cpu_count()} cores)")
    for name, r in results.RESULTS.items():
        tr.write_line(f"{name:45s} {r.value:14,.4g} {r.unit}")
    ratios = results.measured_ratios()
    if ratios:
        tr.write_line("")
    for ratio, value in ratios:
        tr.write_line(f"{ratio.label:60s} {value:8.3g}x")
    write_json(
        Path(config.rootpath) / SUMMARY,
        {
            "date": when.isoformat(timespec="seconds"),
            "machine": {"cores": os.cpu_count(), "platform": platform.platform()},
            "small_inputs": results.small(),
            "results": {k: {"value": r.value, "unit": r.unit} for k, r in results.RESULTS.items()},
            "ratios": {r.label: v for r, v in ratios},
        },
    )
    tr.write_line(f"written to {SUMMARY}")
