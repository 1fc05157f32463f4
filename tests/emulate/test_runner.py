"""Emulator == hls4ml C-simulation, bit for bit, on small Brevitas models (g++ compiles)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from datrig.emulate.runner import emulate
from datrig.errors import DatrigError
from datrig.export.to_ir import network_ir_from_hls4ml
from datrig.ir.io import load_ir, save_ir
from tests.emulate.emu_models import deepsets, mlp, stress_inputs, to_hls

N_EVENTS = 5000

pytestmark = pytest.mark.skipif(shutil.which("g++") is None, reason="g++ not available")


def assert_bit_exact(hls_model: Any, ir: Any, x: np.ndarray) -> None:
    """Compare outputs exactly; on mismatch name the first diverging layer and the counts."""
    expected = np.asarray(hls_model.predict(x)).reshape(len(x), -1)
    result = emulate(ir, x)
    n_diff = int(np.count_nonzero(np.any(result.output != expected, axis=1)))
    if n_diff == 0:
        return
    _, hls_trace = hls_model.trace(x)
    ours = emulate(ir, x, trace=True).trace
    first = "none traced"
    for layer in ir.layers:
        if layer.name in hls_trace:
            theirs = np.asarray(hls_trace[layer.name]).reshape(len(x), -1)
            bad = np.count_nonzero(np.any(ours[layer.name] != theirs, axis=1))
            if bad:
                first = f"{layer.name} ({bad} events differ there)"
                break
    pytest.fail(f"{n_diff} of {len(x)} events differ from the C-sim; first layer: {first}")


@pytest.fixture(scope="module")
def mlp_default(tmp_path_factory: pytest.TempPathFactory):
    hls_model = to_hls(mlp(), (12,), tmp_path_factory.mktemp("mlp"))
    hls_model.compile()
    return hls_model


@pytest.fixture(scope="module")
def mlp_misset(tmp_path_factory: pytest.TempPathFactory):
    """Deliberately narrow/odd precisions: wrapping and saturating accumulators, RND results."""
    overrides = {
        "global_in": {"result": "fixed<10,3,RND,SAT>"},
        "MatMul_0": {"accum": "fixed<12,3,TRN,WRAP>", "result": "fixed<9,2,RND,SAT>"},
        "MatMul_1": {"accum": "fixed<10,2,RND_CONV,SAT>", "result": "fixed<8,2,RND_INF,SAT_SYM>"},
        "MatMul_2": {"accum": "fixed<14,4,RND_ZERO,WRAP>", "result": "fixed<7,1,TRN_ZERO,WRAP>"},
    }
    hls_model = to_hls(mlp(seed=3), (12,), tmp_path_factory.mktemp("misset"), overrides)
    # trace() compiles (with tracing on); predict() reuses that library: one g++ run in all.
    x_trace = stress_inputs(np.random.default_rng(5), 500, (12,))
    _, hls_trace = hls_model.trace(x_trace)
    return hls_model, x_trace, hls_trace


@pytest.fixture(scope="module")
def deepsets_model(tmp_path_factory: pytest.TempPathFactory):
    hls_model = to_hls(deepsets(), (4, 8), tmp_path_factory.mktemp("deepsets"))
    hls_model.compile()
    return hls_model


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_mlp_bit_exact(mlp_default, dtype) -> None:
    x = stress_inputs(np.random.default_rng(0), N_EVENTS, (12,)).astype(dtype)
    assert_bit_exact(mlp_default, network_ir_from_hls4ml(mlp_default), x)


def test_misset_precisions_bit_exact(mlp_misset) -> None:
    mlp_misset, _, _ = mlp_misset
    ir = network_ir_from_hls4ml(mlp_misset)
    kinds = {layer.name: layer for layer in ir.layers}
    # The overrides really reached the model (otherwise this test would prove little).
    acc = [layer.types["accum_t"] for layer in kinds.values() if layer.kind == "dense"]
    assert {a.overflow.name for a in acc} == {"WRAP", "SAT"}
    x = stress_inputs(np.random.default_rng(1), N_EVENTS, (12,))
    assert_bit_exact(mlp_misset, ir, x)


def test_deepsets_bit_exact(deepsets_model) -> None:
    ir = network_ir_from_hls4ml(deepsets_model)
    assert "pointwise_conv1d" in {layer.kind for layer in ir.layers}
    n_nodes, n_feat = 8, 4
    x = stress_inputs(np.random.default_rng(2), N_EVENTS, (n_nodes, n_feat))
    assert_bit_exact(deepsets_model, ir, x)


def test_trace_matches_csim_layer_by_layer(mlp_misset) -> None:
    hls_model, x, hls_trace = mlp_misset
    ir = network_ir_from_hls4ml(hls_model)
    ours = emulate(ir, x, trace=True).trace
    compared = 0
    for name, theirs in hls_trace.items():
        if name in ours:
            np.testing.assert_array_equal(ours[name], np.asarray(theirs).reshape(len(x), -1))
            compared += 1
    assert compared >= 4


def test_ir_roundtrip_and_chunking(mlp_default, tmp_path: Path) -> None:
    ir = network_ir_from_hls4ml(mlp_default)
    save_ir(ir, tmp_path)
    loaded = load_ir(tmp_path)
    x = stress_inputs(np.random.default_rng(3), 1000, (12,))
    whole = emulate(ir, x)
    chunked = emulate(loaded, x, chunk=77)
    np.testing.assert_array_equal(chunked.mantissas, whole.mantissas)
    with pytest.raises(DatrigError, match="expects"):
        emulate(ir, np.zeros((3, 5)))
