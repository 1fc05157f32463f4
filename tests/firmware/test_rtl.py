"""da4ml tracing of a NetworkIR: interpreter, iverilog RTL and yosys, bit-exact vs the emulator."""

from __future__ import annotations

import itertools
import shutil

import numpy as np
import pytest

from datrig.emulate.fixed import to_float
from datrig.emulate.runner import emulate
from datrig.firmware import rtl, rtl_sim, synth
from datrig.firmware.rtl_flow import random_input_mantissas
from datrig.ir.fixed import FixedType, Overflow, Rounding
from datrig.ir.network import LayerIR, NetworkIR

HAS_IVERILOG = rtl_sim.iverilog_version() is not None
HAS_YOSYS = shutil.which("yosys") is not None


def small_mlp(sizes, rounding=Rounding.RND_CONV, overflow=Overflow.SAT, seed=0, name="mlp"):
    """An MLP with integer weights: dense (6-bit weights) + relu, as datrig.export writes it."""
    rng = np.random.default_rng(seed)
    layers = [LayerIR("x", "input", [], FixedType(8, 4, True, rounding, overflow), (sizes[0],))]
    prev = "x"
    for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        layers.append(
            LayerIR(
                f"fc{i}",
                "dense",
                [prev],
                FixedType(10, 4, True, rounding, overflow),
                (n_out,),
                types={"accum_t": FixedType(18, 9)},
                tensors={
                    "weight": rng.integers(-31, 32, (n_in, n_out)),
                    "bias": rng.integers(-64, 64, (n_out,)),
                },
                tensor_types={"weight": FixedType(6, 1), "bias": FixedType(10, 3)},
            )
        )
        prev = f"fc{i}"
        if i < len(sizes) - 2:
            layers.append(
                LayerIR(
                    f"relu{i}", "relu", [prev], FixedType(6, 3, False, rounding, overflow), (n_out,)
                )
            )
            prev = f"relu{i}"
    return NetworkIR(name, layers, [prev])


def _expected(ir, x):
    return emulate(ir, to_float(x, ir.layers[0].result_t)).mantissas


def _n_diff(a, b):
    return int(np.count_nonzero(np.asarray(a) != np.asarray(b)))


@pytest.mark.parametrize("rounding", [Rounding.TRN, Rounding.RND, Rounding.RND_CONV])
@pytest.mark.parametrize("overflow", [Overflow.WRAP, Overflow.SAT, Overflow.SAT_SYM])
def test_interpreter_bit_exact_with_emulator(rounding, overflow):
    ir = small_mlp([6, 8, 4, 1], rounding, overflow, seed=3)
    traced = rtl.trace_network(ir)
    x = random_input_mantissas(ir, 4000, seed=1)
    expected = _expected(ir, x)
    got = rtl.interpret(traced, x)
    assert got.shape == expected.shape
    n = _n_diff(got, expected)
    assert n == 0, f"{n} of {expected.size} outputs differ"
    # The inputs must exercise the casts: some outputs saturate/wrap, many differ from zero.
    assert np.unique(expected).size > 50


def test_unsupported_kind_and_mode_are_named():
    ir = small_mlp([3, 2, 1])
    ir.layers.insert(2, LayerIR("sm", "softsign", ["fc0"], FixedType(8, 1), (2,)))
    with pytest.raises(rtl.UnsupportedLayerError, match=r"sm \(softsign\)"):
        rtl.trace_network(ir)
    ir = small_mlp([3, 2, 1], rounding=Rounding.RND_ZERO)
    with pytest.raises(rtl.UnsupportedLayerError, match="AP_RND_ZERO"):
        rtl.trace_network(ir)


def test_lossy_accumulator_is_refused():
    ir = small_mlp([3, 2, 1])
    ir.layers[1].types["accum_t"] = FixedType(12, 6)  # 6 frac bits < 4 + 5
    with pytest.raises(rtl.UnsupportedLayerError, match="rounds each product"):
        rtl.trace_network(ir)


def test_depth_slack_trades_adder_levels_for_adders():
    """da4ml's hard_dc: the shallowest trees (0) need fewer pipeline stages than unconstrained
    (-1) adder sharing, and both compute the same (interpreter == emulator)."""
    from da4ml.trace import to_pipeline

    ir = small_mlp([13, 32, 16, 1], seed=3)
    x = random_input_mantissas(ir, 300, seed=1)
    stages = {}
    for slack in (-1, 0):
        traced = rtl.trace_network(ir, depth_slack=slack)
        assert rtl.check_interpreter(traced, x, _expected(ir, x)) == 0
        stages[slack] = len(to_pipeline(traced.comb, 5.0, verbose=False).solutions)
    assert stages[0] < stages[-1], stages


def test_latency_cutoff_scales_with_clock():
    assert rtl.latency_cutoff_for(5.0) == 5.0
    assert rtl.latency_cutoff_for(0.2) == 1.0


@pytest.mark.tools
@pytest.mark.skipif(not HAS_IVERILOG, reason="iverilog not installed")
@pytest.mark.parametrize("rounding", [Rounding.TRN, Rounding.RND_CONV])
def test_rtl_simulation_bit_exact(tmp_path, rounding):
    ir = small_mlp([6, 8, 4, 1], rounding, Overflow.SAT, seed=5)
    traced = rtl.trace_network(ir)
    design = rtl.write_verilog(traced, tmp_path / "rtl", clock_period_ns=3.0)
    x = random_input_mantissas(ir, 500, seed=2)
    expected = _expected(ir, x)
    sim = rtl_sim.simulate(design, x, expected)
    assert sim.n_mismatch == 0, f"{sim.n_mismatch} of {sim.n_events} events differ"
    np.testing.assert_array_equal(sim.output_mantissas, expected)
    # Registers: one at the input plus one after every pipeline stage.
    assert sim.latency_cycles == design.n_stages + 1
    assert sim.ii_cycles == 1


@pytest.mark.tools
@pytest.mark.skipif(not HAS_IVERILOG, reason="iverilog not installed")
def test_rtl_simulation_detects_a_wrong_expectation(tmp_path):
    ir = small_mlp([4, 3, 1], seed=7)
    design = rtl.write_verilog(rtl.trace_network(ir), tmp_path / "rtl", clock_period_ns=5.0)
    x = random_input_mantissas(ir, 50, seed=3)
    wrong = _expected(ir, x).copy()
    wrong[[3, 17]] += 1
    assert rtl_sim.simulate(design, x, wrong).n_mismatch == 2


@pytest.mark.tools
@pytest.mark.skipif(not HAS_YOSYS, reason="yosys not installed")
def test_yosys_synthesis_counts_cells(tmp_path):
    ir = small_mlp([4, 3, 1], seed=11)
    design = rtl.write_verilog(rtl.trace_network(ir), tmp_path / "rtl", clock_period_ns=5.0)
    res = synth.synthesise(design, family="xcup")
    assert res.family == "xcup"
    assert res.dsp == 0 and res.bram_18k == 0  # adders only
    assert res.lut > 0
    # Every register bit of the pipeline becomes one flip-flop (yosys may drop constant bits).
    assert 0 < res.ff <= design.reg_bits + design.output_width


@pytest.mark.tools
@pytest.mark.skipif(not HAS_YOSYS, reason="yosys not installed")
def test_a_cancelled_synthesis_stops_yosys_at_once(tmp_path):
    """The report runs yosys beside the RTL simulation; when the simulation fails or is
    interrupted, yosys is stopped instead of waited for."""
    import threading
    import time

    from datrig.errors import DatrigError

    ir = small_mlp([16, 64, 32, 1], seed=5)  # yosys takes seconds on it
    design = rtl.write_verilog(rtl.trace_network(ir), tmp_path / "rtl", clock_period_ns=5.0)
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    start = time.perf_counter()
    with pytest.raises(DatrigError, match="cancelled"):
        synth.synthesise(design, family="xcup", cancel=cancel)
    assert time.perf_counter() - start < 3.0


def test_count_cells_reads_yosys_stat():
    text = """
=== mlp ===

   Number of wires:                 10
   Number of cells:                 9
     CARRY4                          2
     FDRE                            3
     FDSE                            1
     LUT2                            1
     LUT6                            1
     INV                             1
     DSP48E2                         1
     RAMB36E2                        1
     RAMB18E2                        1
"""
    cells = synth.count_cells(text)
    assert synth.summarise(cells) == (3, 4, 1, 3, 2)


def test_used_fractional_bits_of_weight_values():
    from datrig.firmware.rtl import _used_fractional_bits

    # 1/32 stored with 11 fractional bits (mantissa 64) uses 5 of them
    assert _used_fractional_bits(np.array([[64, 0], [64, 64]]), 11) == 5
    assert _used_fractional_bits(np.array([3, -5]), 4) == 4
    assert _used_fractional_bits(np.array([0, 0]), 7) == 7


def _dense(name, weight):
    return LayerIR(
        name,
        "dense",
        ["x"],
        FixedType(12, 6),
        (weight.shape[1],),
        types={"accum_t": FixedType(24, 12)},
        tensors={"weight": weight, "bias": np.zeros(weight.shape[1], dtype=np.int64)},
        tensor_types={"weight": FixedType(8, 1), "bias": FixedType(10, 3)},
    )


def two_branches(deep):
    """x -> two dense branches -> their difference. Branch ``deep`` sums 16 seven-bit weights
    per output; the other passes one input through, so its adder tree is no tree at all."""
    wide = np.random.default_rng(7).integers(-127, 128, (16, 2))
    single = np.zeros((16, 2), dtype=np.int64)
    single[0, :] = 1
    weights = {"a": wide if deep == "a" else single, "b": wide if deep == "b" else single}
    layers = [LayerIR("x", "input", [], FixedType(8, 4), (16,))]
    layers += [_dense(f"{br}_fc", weights[br]) for br in ("a", "b")]
    diff = LayerIR("diff", "merge", ["a_fc", "b_fc"], FixedType(16, 8), (2,), {"op": "subtract"})
    return NetworkIR("branches", [*layers, diff], ["diff"])


@pytest.mark.parametrize("deep", ["a", "b"])
def test_the_critical_path_follows_the_deeper_branch(deep):
    """The layers that set the pipeline depth, and their adder levels, sum to da4ml's own
    latency of the output; the shallow branch is not on the path."""
    traced = rtl.trace_network(two_branches(deep), depth_slack=0)
    names = [name for name, _ in traced.critical_path]
    assert names == [f"{deep}_fc", "diff"]
    assert all(levels > 0 for _, levels in traced.critical_path)
    assert traced.adder_levels == max(traced.comb.out_latency)
    assert dict(traced.critical_path)[f"{deep}_fc"] >= 4  # a tree over >= 16 terms


def test_the_critical_path_of_an_mlp_runs_through_every_layer():
    ir = small_mlp([13, 32, 16, 1], seed=3)
    traced = rtl.trace_network(ir, depth_slack=0)
    assert [n for n, _ in traced.critical_path] == ["fc0", "relu0", "fc1", "relu1", "fc2"]
    assert traced.adder_levels == max(traced.comb.out_latency)
