"""The table-derived LUT bounds hold for the emulator's (C-sim-exact) kernels, without g++."""

from __future__ import annotations

import numpy as np
import pytest

from datrig.emulate import lut
from datrig.emulate.fixed import from_float, to_float
from datrig.emulate.kernels import Tensor
from datrig.emulate.kinds import kernel_for
from datrig.errors import DatrigError
from datrig.export.lut_check import argmax_agreement, final_lut_layer, lut_bound
from datrig.export.precision import softmax_table_types
from datrig.ir.fixed import FixedType, Overflow, Rounding
from datrig.ir.network import LayerIR, NetworkIR

IN_T = FixedType(16, 5, True, Rounding.RND_CONV, Overflow.SAT)
RES_T = FixedType(18, 8, True, Rounding.RND_CONV, Overflow.SAT)


def _grid_inputs(n: int, width: int, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).normal(0, 3, size=(n, width))
    return to_float(from_float(x, IN_T), IN_T)


def _run(layer: LayerIR, x: np.ndarray) -> np.ndarray:
    m = from_float(x, IN_T)
    kernel = kernel_for(layer)
    return to_float(kernel(layer, [Tensor(m, IN_T)]), layer.result_t)


@pytest.mark.parametrize("kind", ["sigmoid", "tanh"])
@pytest.mark.parametrize("n_table", [256, 1024])
def test_symmetric_table_bound_holds(kind: str, n_table: int) -> None:
    table_t = FixedType(18, 8)
    build = lut.sigmoid_table if kind == "sigmoid" else lut.tanh_table
    layer = LayerIR(
        "act",
        kind,
        ["x"],
        RES_T,
        (1,),
        tensors={"table": build(n_table, table_t)},
        tensor_types={"table": table_t},
    )
    bound = lut_bound(layer, IN_T)
    x = np.concatenate([np.linspace(-16, 16, 40001), _grid_inputs(2000, 1).ravel()])[:, None]
    x = to_float(from_float(x, IN_T), IN_T)
    ref = 1 / (1 + np.exp(-x)) if kind == "sigmoid" else np.tanh(x)
    err = np.abs(_run(layer, x) - ref).max()
    assert err <= bound.atol, f"{kind}: measured {err} above the derived bound {bound.atol}"
    assert bound.atol < 4 * err + 4 * RES_T.lsb  # the bound is not vacuous
    assert str(n_table) in bound.basis


def _softmax_layer(n_classes: int, types: dict[str, FixedType]) -> LayerIR:
    norm_t = FixedType(17, 6, False)  # hls4ml's inp_norm_t for a fixed<16,5> input
    n = 1024
    return LayerIR(
        "softmax",
        "softmax",
        ["x"],
        RES_T,
        (n_classes,),
        attrs={"implementation": "stable"},
        types={
            "accum_t": types["accum_t"],
            "inv_inp_t": types["inv_inp_t"],
            "inp_norm_t": norm_t,
        },
        tensors={
            "exp_table": lut.exp_table(n, norm_t, types["exp_table_t"], 1.0, negative=True),
            "inv_table": lut.invert_table(n, types["inv_inp_t"], types["inv_table_t"]),
        },
        tensor_types={"exp_table": types["exp_table_t"], "inv_table": types["inv_table_t"]},
    )


HLS4ML_DEFAULT = {
    "exp_table_t": FixedType(18, 8, True, Rounding.RND, Overflow.SAT),
    "inv_table_t": FixedType(18, 8, True, Rounding.RND, Overflow.SAT),
    "accum_t": FixedType(18, 8, True, Rounding.RND, Overflow.SAT),
    "inv_inp_t": FixedType(18, 8, True, Rounding.RND, Overflow.SAT),
}


@pytest.mark.parametrize("which", ["hls4ml_default", "derived"])
@pytest.mark.parametrize("n_classes", [2, 5, 10])
def test_softmax_bound_holds(which: str, n_classes: int) -> None:
    types = HLS4ML_DEFAULT if which == "hls4ml_default" else softmax_table_types(n_classes)
    layer = _softmax_layer(n_classes, types)
    x = _grid_inputs(20000, n_classes, seed=n_classes)
    y = _run(layer, x)
    e = np.exp(x - x.max(axis=1, keepdims=True))
    ref = e / e.sum(axis=1, keepdims=True)
    err = np.abs(y - ref).max()
    bound = lut_bound(layer, IN_T)
    assert err <= bound.atol, f"measured {err} above the derived bound {bound.atol}"
    if which == "derived":  # fitted table types: 1/sum addressed finely
        assert bound.atol < 0.12
        assert argmax_agreement(ref, y) > 0.95


def test_derived_softmax_types_beat_hls4ml_defaults() -> None:
    default = lut_bound(_softmax_layer(5, HLS4ML_DEFAULT), IN_T).atol
    derived = lut_bound(_softmax_layer(5, softmax_table_types(5)), IN_T).atol
    assert derived < default / 4


def test_lut_inside_the_network_is_refused() -> None:
    def layer(name: str, kind: str) -> LayerIR:
        return LayerIR(name, kind, [], RES_T, (4,))

    ir = NetworkIR("n", [layer("in", "input"), layer("t", "tanh"), layer("d", "dense")], ["d"])
    with pytest.raises(DatrigError, match=r"layer t .tanh. is a lookup-table activation inside"):
        final_lut_layer(ir)
    ok = NetworkIR("n", [layer("in", "input"), layer("d", "dense"), layer("s", "sigmoid")], ["s"])
    assert final_lut_layer(ok).name == "s"
    assert final_lut_layer(NetworkIR("n", [layer("in", "input")], ["in"])) is None


def test_latency_softmax_has_no_bound() -> None:
    layer = _softmax_layer(5, HLS4ML_DEFAULT)
    layer.attrs["implementation"] = "latency"
    with pytest.raises(DatrigError, match="implementation 'latency'"):
        lut_bound(layer, IN_T)


def test_argmax_agreement_counts_events() -> None:
    a = np.array([[0.1, 0.9], [0.8, 0.2], [0.5, 0.6], [0.3, 0.7]])
    b = np.array([[0.2, 0.8], [0.4, 0.6], [0.5, 0.6], [0.3, 0.7]])
    assert argmax_agreement(a, b) == 0.75
