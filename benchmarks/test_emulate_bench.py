"""Emulator vs hls4ml C-simulation events/s on the same 12-32-16-1 MLP, in one run.

`make bench` prints both rows; the ratio (emulator ops / C-sim ops) is stored in extra_info.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from datrig.emulate.runner import emulate
from datrig.export.to_ir import network_ir_from_hls4ml
from tests.emulate.emu_models import mlp, stress_inputs, to_hls

N_EVENTS = 20000
RATES: dict[str, float] = {}

pytestmark = pytest.mark.skipif(shutil.which("g++") is None, reason="g++ not available")


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory):
    hls_model = to_hls(mlp(), (12,), tmp_path_factory.mktemp("bench"))
    hls_model.compile()
    x = stress_inputs(np.random.default_rng(0), N_EVENTS, (12,))
    ir = network_ir_from_hls4ml(hls_model)
    np.testing.assert_array_equal(emulate(ir, x).output, hls_model.predict(x).reshape(-1, 1))
    np.testing.assert_array_equal(emulate(ir, x, method="stepwise").output, emulate(ir, x).output)
    return hls_model, ir, x


def test_csim_events_per_s(benchmark, setup) -> None:
    hls_model, _, x = setup
    benchmark.pedantic(hls_model.predict, args=(x,), rounds=3, iterations=1)
    RATES["csim"] = N_EVENTS / benchmark.stats.stats.median
    benchmark.extra_info["events_per_s"] = RATES["csim"]


def test_emulator_stepwise_events_per_s(benchmark, setup) -> None:
    """The int64 reference path, for comparison with the default fast path."""
    _, ir, x = setup
    benchmark.pedantic(emulate, args=(ir, x), kwargs={"method": "stepwise"}, rounds=3)
    benchmark.extra_info["events_per_s"] = N_EVENTS / benchmark.stats.stats.median


def test_emulator_events_per_s(benchmark, setup) -> None:
    _, ir, x = setup
    benchmark.pedantic(emulate, args=(ir, x), rounds=20, iterations=1)
    RATES["emulator"] = N_EVENTS / benchmark.stats.stats.median
    benchmark.extra_info["events_per_s"] = RATES["emulator"]
    if "csim" in RATES:
        benchmark.extra_info["speedup_vs_csim"] = RATES["emulator"] / RATES["csim"]
        print(
            f"\nemulator {RATES['emulator']:.0f} ev/s, C-sim {RATES['csim']:.0f} ev/s, "
            f"ratio {RATES['emulator'] / RATES['csim']:.1f}x"
        )
