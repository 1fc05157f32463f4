"""Emulator (fast and stepwise int64 paths) vs hls4ml's C-simulation, events/s on the same
events of one exported MLP (``benchmarks/mlp_project.py``), in one run.

The C-simulation is the verified project's stored library (:class:`CsimLibrary`: hls4ml's C++
compiled with g++, called through ctypes once per event, as hls4ml's own ``predict`` does).
`make bench` prints the rates and their ratios in its summary (``benchmarks/results.py``).
"""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.results import compare, per_second

compare("emulator / hls4ml C-sim, 12-32-16-1 MLP", "emulate.emulator", "emulate.csim")
compare("emulator fast / stepwise int64 path", "emulate.emulator", "emulate.emulator_stepwise")


@pytest.fixture(scope="module")
def loaded(mlp_case):
    from datrig.project.meta import FirmwareProject

    project = FirmwareProject.load(mlp_case.project)
    return project, mlp_case.inputs


def test_csim_events_per_s(benchmark, loaded) -> None:
    project, x = loaded
    benchmark.pedantic(project.library.predict, args=(x,), rounds=3, iterations=1)
    per_second(benchmark, "emulate.csim", len(x))


def test_emulator_stepwise_events_per_s(benchmark, loaded) -> None:
    """The int64 reference path, for comparison with the default fast path."""
    from datrig.emulate.runner import emulate

    project, x = loaded
    y = benchmark.pedantic(
        lambda: emulate(project.ir, x, method="stepwise").output, rounds=3, iterations=1
    )
    np.testing.assert_array_equal(y, emulate(project.ir, x).output)
    per_second(benchmark, "emulate.emulator_stepwise", len(x))


def test_emulator_events_per_s(benchmark, loaded) -> None:
    from datrig.emulate.runner import emulate

    project, x = loaded
    y = benchmark.pedantic(lambda: emulate(project.ir, x).output, rounds=20, iterations=1)
    np.testing.assert_array_equal(y, project.library.predict(x))
    per_second(benchmark, "emulate.emulator", len(x))
