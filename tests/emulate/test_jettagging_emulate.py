"""The QKeras jet-tagging model (16-64-32-32-5, softmax), built in tests/qonnx_models.py and,
when present, the real file of ../shared/refmodels: emulator == C-simulation bit for bit,
layer by layer."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from datrig.emulate.runner import emulate
from datrig.export.to_ir import network_ir_from_hls4ml
from tests.emulate.emu_models import qonnx_file_to_hls
from tests.qonnx_models import qkeras_style_jet_tagger, real_refmodel

REAL = real_refmodel("jettagging_qkeras/qkeras_jettagging.onnx")
N_EVENTS = 20000


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("g++") is None, reason="g++ not available")
@pytest.mark.parametrize("source", ["generated"] + (["real"] if REAL else []))
def test_jettagging_bit_exact(source: str, tmp_path: Path) -> None:
    onnx_path = REAL if source == "real" else qkeras_style_jet_tagger(tmp_path / "jet.onnx")
    # hls4ml's own test uses default_precision fixed<32,16>; the QKeras quantizers set the rest.
    hls_model = qonnx_file_to_hls(onnx_path, tmp_path / "prj", "fixed<32,16>")
    ir = network_ir_from_hls4ml(hls_model)
    assert [layer.kind for layer in ir.layers].count("dense") == 4
    assert ir.layers[-1].kind == "softmax"
    hls_model.compile()
    rng = np.random.default_rng(21)
    x = rng.uniform(-4, 4, (N_EVENTS, 16))
    expected = np.asarray(hls_model.predict(x)).reshape(len(x), -1)
    for method in ("fast", "stepwise"):
        got = emulate(ir, x, method=method).output
        n_diff = int(np.count_nonzero(np.any(got != expected, axis=1)))
        assert n_diff == 0, f"{method}: {n_diff} of {len(x)} events differ from the C-sim"
    _, hls_trace = hls_model.trace(x[:1000])
    ours = emulate(ir, x[:1000], trace=True).trace
    for layer in ir.layers[1:]:
        theirs = np.asarray(hls_trace[layer.name]).reshape(1000, -1)
        bad = int(np.count_nonzero(np.any(ours[layer.name] != theirs, axis=1)))
        assert bad == 0, f"layer {layer.name} ({layer.kind}): {bad} events differ"
