"""conifer's C-simulation and both VHDL designs equal datrig's emulator bit for bit, on an
ensemble the toy did not shape (synthetic task, signed weights, 5 features, a threshold map
over two of them), far-out inputs included; latency and II come from the GHDL clock counter."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from datrig.emulate.trees import emulate_mantissas
from datrig.export.conifer_export import compile_csim, write_hls
from datrig.export.conifer_vhdl import bdt_latency, write_vhdl
from datrig.export.tree_vhdl import SHALLOW_FILE, shallow_latency, write_shallow_vhdl
from datrig.ir.trees import EnsembleIR, ThresholdMapIR
from datrig.project.trees import TreeProject, compare
from tests.ensemble_models import fitted_ensemble

PART = "xcvu13p-flga2577-2-e"
needs_gxx = pytest.mark.skipif(shutil.which("g++") is None, reason="g++ not installed")
needs_ghdl = pytest.mark.skipif(shutil.which("ghdl") is None, reason="ghdl not installed")


def _with_map(ir: EnsembleIR) -> EnsembleIR:
    table = tuple(tuple((r * 7 - c * 5) % 40 - 20 for c in range(4)) for r in range(3))
    tmap = ThresholdMapIR(2, 3, (-20, 30), (-64, 0, 17), table)
    from datrig.train.trees import score_type

    t_out = score_type(ir.score_bound() + 20, ir.score_type.fractional)
    return EnsembleIR(ir.name, ir.features, ir.input_type, ir.score_type, t_out, ir.init,
                      ir.trees, tmap)  # fmt: skip


def _inputs(ir: EnsembleIR, xq: np.ndarray, n: int) -> np.ndarray:
    rng = np.random.default_rng(5)
    t = ir.input_type
    grid = rng.integers(t.min_mantissa, t.max_mantissa + 1, size=(n, ir.n_features))
    return np.concatenate([xq[: n // 4], grid])


@needs_gxx
@pytest.mark.parametrize("mapped", [False, True])
def test_conifer_csim_equals_the_emulator(tmp_path, mapped):
    ir, xq, *_ = fitted_ensemble(n_trees=12, depth=3)
    ir = _with_map(ir) if mapped else ir
    ir.check("test")
    write_hls(ir, tmp_path / "hls", PART, 5.0)
    compile_csim(tmp_path / "hls")
    project = TreeProject(tmp_path, {}, ir, None)  # type: ignore[arg-type]
    x = _inputs(ir, xq, 100_000)
    check = compare("csim", project.csim_mantissas(x), emulate_mantissas(ir, x))
    assert check.ok, f"{check.n_mismatch} of {check.n_events} events differ"
    assert not list(tmp_path.glob("**/.fp_converter*")), "conifer left helpers behind"


@pytest.mark.tools
@needs_ghdl
@pytest.mark.parametrize("n_trees, depth", [(12, 3), (5, 2)])
def test_both_vhdl_designs_equal_the_emulator(tmp_path, n_trees, depth):
    from datrig.firmware.vhdl_flow import simulate

    ir, xq, *_ = fitted_ensemble(n_trees=n_trees, depth=depth, seed=n_trees)
    ir = _with_map(ir)
    x = _inputs(ir, xq, 3000)
    want = emulate_mantissas(ir, x)
    write_vhdl(ir, tmp_path / "conifer", PART)
    write_shallow_vhdl(ir, tmp_path / "pipelined" / "firmware")
    w_in, w_out = ir.input_type.width, ir.output_type.width
    conifer = simulate(tmp_path / "conifer", x, w_in, w_out, tmp_path / "s1")
    pipelined = simulate(tmp_path / "pipelined", x, w_in, w_out, tmp_path / "s2",
                         files=(SHALLOW_FILE,))  # fmt: skip
    for name, run, latency in (("conifer", conifer, bdt_latency(ir) + 1),
                               ("pipelined", pipelined, shallow_latency(ir))):  # fmt: skip
        n_diff = int(np.count_nonzero(run.outputs != want))
        assert n_diff == 0, f"{name}: {n_diff} of {len(x)} events differ"
        assert (run.latency_cycles, run.ii) == (latency, 1), name


@pytest.mark.tools
@needs_ghdl
@pytest.mark.skipif(shutil.which("yosys") is None, reason="yosys not installed")
def test_the_pipelined_design_synthesises_to_luts(tmp_path):
    from datrig.firmware.vhdl_flow import synthesise

    ir, *_ = fitted_ensemble(n_trees=6, depth=3)
    write_shallow_vhdl(_with_map(ir), tmp_path / "firmware")
    res = synthesise(tmp_path, "xcup", tmp_path / "synth", files=(SHALLOW_FILE,))
    assert res.lut > 50 and res.ff > 20 and res.dsp == 0 and res.bram == 0
