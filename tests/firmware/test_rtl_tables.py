"""RTL of the table activations (sigmoid, tanh, the three softmaxes), leaky ReLU and merges:
da4ml's interpreter, Verilator/iverilog and the yosys netlist, each bit-exact vs the emulator."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pytest

from datrig.emulate import lut
from datrig.emulate.fixed import to_float
from datrig.emulate.kinds import LAYER_KINDS
from datrig.emulate.runner import emulate
from datrig.firmware import cosim, rtl, rtl_sim, synth, trace_tables
from datrig.firmware.rtl_flow import random_input_mantissas
from datrig.firmware.trace_cast import symbols
from datrig.ir.fixed import FixedType, Overflow, Rounding
from datrig.ir.network import LayerIR, NetworkIR
from tests.emulate.emu_models import activation_net, activation_to_hls

HAS_IVERILOG = rtl_sim.iverilog_version() is not None
HAS_VERILATOR = shutil.which("verilator") is not None
HAS_YOSYS = shutil.which("yosys") is not None
XILINX_CELLS = Path("/usr/share/yosys/xilinx/cells_sim.v")

TABLE_LAYERS = ("sigmoid", "tanh", "leaky", "sm_stable", "sm_latency", "sm_legacy")


def _expected(ir: NetworkIR, x: np.ndarray) -> np.ndarray:
    return emulate(ir, to_float(x, ir.layers[0].result_t)).mantissas


def _upto(ir: NetworkIR, name: str) -> NetworkIR:
    names = [layer.name for layer in ir.layers]
    return NetworkIR(f"{ir.name}_{name}", ir.layers[: names.index(name) + 1], [name])


def _n_differ(traced: rtl.TracedNetwork, x: np.ndarray, expected: np.ndarray) -> str:
    n = rtl.check_interpreter(traced, x, expected)
    return f"{n} of {len(x)} events differ"


@pytest.fixture(scope="module")
def activation_ir(tmp_path_factory: pytest.TempPathFactory) -> NetworkIR:
    """hls4ml's own conversion of a chain through every table activation, with narrow,
    saturating and rounding types (tests/emulate/emu_models.py), as datrig's IR."""
    from datrig.export.to_ir import network_ir_from_hls4ml

    hls_model = activation_to_hls(activation_net(), tmp_path_factory.mktemp("act"))
    return network_ir_from_hls4ml(hls_model)


def test_every_emulated_kind_has_an_rtl_tracer():
    """The analytic estimate is left only for modes a tracer refuses, not for whole kinds."""
    assert set(rtl.TRACERS) == set(LAYER_KINDS)


@pytest.mark.parametrize("name", TABLE_LAYERS)
def test_table_layers_trace_bit_exact(activation_ir, name):
    ir = _upto(activation_ir, name)
    assert ir.layer(name).kind in ("sigmoid", "tanh", "leaky_relu", "softmax")
    traced = rtl.trace_network(ir)
    x = random_input_mantissas(ir, 20_000, seed=3)
    expected = _expected(ir, x)
    assert rtl.check_interpreter(traced, x, expected) == 0, _n_differ(traced, x, expected)
    assert np.unique(expected).size > 100  # the comparison can fail: outputs vary


def _unary_net(kind: str, x_t: FixedType, n_table: int, res_t: FixedType) -> NetworkIR:
    table_t = FixedType(18, 8)
    build = lut.sigmoid_table if kind == "sigmoid" else lut.tanh_table
    return NetworkIR(
        kind,
        [
            LayerIR("x", "input", [], x_t, (3,)),
            LayerIR(
                "act",
                kind,
                ["x"],
                res_t,
                (3,),
                attrs={"table_size": n_table},
                tensors={"table": build(n_table, table_t)},
                tensor_types={"table": table_t},
            ),
        ],
        ["act"],
    )


@pytest.mark.parametrize("kind", ["sigmoid", "tanh"])
@pytest.mark.parametrize(
    ("x_t", "n_table"),
    [
        (FixedType(12, 5, True, Rounding.RND_CONV, Overflow.SAT), 1024),  # index truncates x
        (FixedType(7, 5, True, Rounding.TRN, Overflow.WRAP), 1024),  # x coarser than the index
        (FixedType(11, 6, True, Rounding.RND, Overflow.SAT), 1000),  # N/R not a power of two
    ],
)
def test_unary_tables_on_every_input_value(kind, x_t, n_table):
    """Every mantissa of the input type: truncation toward zero, clamping at both ends."""
    ir = _unary_net(kind, x_t, n_table, FixedType(10, 2, True, Rounding.RND_CONV, Overflow.SAT))
    every = np.arange(x_t.min_mantissa, x_t.max_mantissa + 1)
    x = np.resize(every, (len(every) + 2) // 3 * 3).reshape(-1, 3)
    x[:, 1], x[:, 2] = np.minimum(-x[:, 0], x_t.max_mantissa), x[::-1, 0]
    traced = rtl.trace_network(ir)
    expected = _expected(ir, x)
    assert rtl.check_interpreter(traced, x, expected) == 0, _n_differ(traced, x, expected)


def _merge_net(op: str) -> NetworkIR:
    rng = np.random.default_rng(5)
    x_t = FixedType(8, 4, True, Rounding.RND_CONV, Overflow.SAT)
    layers = [LayerIR("x", "input", [], x_t, (4,))]
    for branch in ("a", "b"):
        layers.append(
            LayerIR(
                branch,
                "dense",
                ["x"],
                FixedType(9, 4, True, Rounding.RND, Overflow.SAT),
                (3,),
                types={"accum_t": FixedType(20, 8)},
                tensors={"weight": rng.integers(-31, 32, (4, 3)), "bias": rng.integers(-9, 9, 3)},
                tensor_types={"weight": FixedType(6, 1), "bias": FixedType(6, 2)},
            )
        )
    attrs = {"op": op, "axis": -1} if op == "concatenate" else {"op": op}
    res_t = FixedType(8, 4, True, Rounding.RND_CONV, Overflow.SAT)
    shape = (6,) if op == "concatenate" else (3,)
    layers.append(LayerIR("m", "merge", ["a", "b"], res_t, shape, attrs=attrs))
    return NetworkIR(f"merge_{op}", layers, ["m"])


@pytest.mark.parametrize(
    "op", ["add", "subtract", "multiply", "average", "maximum", "minimum", "concatenate"]
)
def test_merge_traces_bit_exact(op):
    ir = _merge_net(op)
    traced = rtl.trace_network(ir)
    x = random_input_mantissas(ir, 5000, seed=7)
    expected = _expected(ir, x)
    assert rtl.check_interpreter(traced, x, expected) == 0, _n_differ(traced, x, expected)
    assert np.unique(expected).size > 30


def test_shift_add_product_is_exact_and_shallow():
    """Every partial product (the top bit of b too, which da4ml could forward to an earlier
    symbol's MSB) and a tree ~log2(bits) deep instead of da4ml's one level per bit."""
    from da4ml.trace import FixedVariableArrayInput, HWConfig, comb_trace

    x = FixedVariableArrayInput((2,), hwconf=HWConfig(1, -1, -1), solver_options={"hard_dc": -1})
    xq = x.quantize(np.array([1, 0]), np.array([4, 5]), np.array([3, 6]), "WRAP", "TRN")
    a, b = xq._vars
    tree = trace_tables.shift_add_product(a, b)
    assert float(tree.latency) <= 1 + np.ceil(np.log2(11)) + 1
    assert float((a * b).latency) > float(tree.latency)
    comb = comb_trace(x, symbols(xq, [tree], (1,)))
    rng = np.random.default_rng(0)
    v = np.stack([rng.integers(-128, 128, 5000) / 8, rng.integers(0, 2048, 5000) / 64], axis=1)
    got = np.asarray(comb.predict(v, n_threads=1)).ravel()
    assert int(np.count_nonzero(got != v[:, 0] * v[:, 1])) == 0


def test_oversized_lookup_is_refused_with_its_size():
    ir = _unary_net("sigmoid", FixedType(20, 10), 1000, FixedType(10, 2))
    with pytest.raises(rtl.UnsupportedLayerError, match=r"1,048,576 input values exceeds"):
        rtl.trace_network(ir)


@pytest.mark.tools
@pytest.mark.skipif(not HAS_VERILATOR, reason="verilator not installed")
def test_softmax_rtl_bit_exact_on_1e5_events_verilator(activation_ir, tmp_path):
    ir = _upto(activation_ir, "sm_legacy")  # every table kind in one design
    design = rtl.write_verilog(rtl.trace_network(ir), tmp_path / "rtl", clock_period_ns=5.0)
    assert design.has_tables
    x = random_input_mantissas(ir, 100_000, seed=11)
    expected = _expected(ir, x)
    result = cosim.cosimulate(design, x, expected, tool="verilator")
    assert result.ok, result.message()
    assert result.n_events == 100_000


@pytest.mark.tools
@pytest.mark.skipif(not HAS_IVERILOG, reason="iverilog not installed")
def test_table_rtl_bit_exact_iverilog(activation_ir, tmp_path):
    ir = _upto(activation_ir, "sm_stable")
    design = rtl.write_verilog(rtl.trace_network(ir), tmp_path / "rtl", clock_period_ns=5.0)
    x = random_input_mantissas(ir, 300, seed=2)
    sim = rtl_sim.simulate(design, x, _expected(ir, x))
    assert sim.n_mismatch == 0, f"{sim.n_mismatch} of {sim.n_events} events differ"


@dataclasses.dataclass
class _Netlist(rtl.RTLDesign):
    """The same ports, simulated from yosys's mapped netlist and Xilinx cell models."""

    netlist: Path = Path()

    def sources(self) -> list[Path]:
        return [self.netlist, XILINX_CELLS]


@pytest.mark.tools
@pytest.mark.skipif(
    not (HAS_YOSYS and HAS_IVERILOG and XILINX_CELLS.exists()), reason="yosys/iverilog missing"
)
def test_synthesised_roms_are_luts_and_compute_the_tables(tmp_path):
    """yosys's LUT count is only meaningful if its netlist is the design: simulate it."""
    x_t = FixedType(12, 5, True, Rounding.RND_CONV, Overflow.SAT)
    ir = _unary_net("sigmoid", x_t, 1024, FixedType(10, 2, True, Rounding.RND_CONV, Overflow.SAT))
    design = rtl.write_verilog(rtl.trace_network(ir), tmp_path / "rtl", clock_period_ns=5.0)
    net = tmp_path / "netlist.v"
    res = synth.synthesise(design, family="xcup", netlist=net)
    assert (res.dsp, res.bram_18k) == (0, 0)
    assert res.lut >= 3 * 20, res.cells  # three 1024-entry ROMs as LUTs, not optimised away
    gate = _Netlist(**{f.name: getattr(design, f.name) for f in dataclasses.fields(design)})
    gate.netlist = net
    x = random_input_mantissas(ir, 400, seed=4)
    sim = rtl_sim.simulate(gate, x, _expected(ir, x))
    assert sim.n_mismatch == 0, f"{sim.n_mismatch} of {sim.n_events} events differ"
