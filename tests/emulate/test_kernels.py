"""Layer kernels against hand-computed fixed-point expectations (no compiler needed)."""

from __future__ import annotations

import numpy as np
import pytest

from datrig.emulate.kernels import Tensor, dense, merge, transpose
from datrig.emulate.kinds import kernel_for
from datrig.emulate.runner import emulate
from datrig.errors import DatrigError
from datrig.ir.fixed import FixedType, Overflow, Rounding
from datrig.ir.network import LayerIR, NetworkIR

T4_2 = FixedType(8, 6)  # 2 fractional bits


def dense_layer(w, b, acc: FixedType, res: FixedType) -> LayerIR:
    return LayerIR(
        "fc", "dense", ["in"], res, (np.shape(w)[1],),
        types={"accum_t": acc},
        tensors={"weight": np.asarray(w, dtype=np.int64), "bias": np.asarray(b, dtype=np.int64)},
        tensor_types={"weight": FixedType(6, 1), "bias": FixedType(8, 4)},
    )  # fmt: skip


def test_dense_wrapping_and_saturating_accumulators() -> None:
    # x = [3, 2] (LSB 1/4 -> 0.75, 0.5); w = [[16], [16]] (LSB 1/32 -> 0.5, 0.5); bias 0.
    x = Tensor(np.array([[3, 2]]), T4_2)
    w, b = [[16], [16]], [0]
    # Exact: 0.375 + 0.25 = 0.625 at 7 frac bits = 80.
    wide = FixedType(16, 8)
    assert dense(dense_layer(w, b, wide, FixedType(16, 9)), [x]).tolist() == [[80]]
    # accum_t fixed<4,1,TRN,WRAP> (3 frac bits, range [-1, 0.875]): products 3, 2 -> 5 = 0.625.
    # result_t ap_fixed<3,1,RND,SAT> (2 frac bits): 0.625 -> 0.75 (tie rounds up) = 3.
    acc = FixedType(4, 1, True, Rounding.TRN, Overflow.WRAP)
    res = FixedType(3, 1, True, Rounding.RND, Overflow.SAT)
    assert dense(dense_layer(w, b, acc, res), [x]).tolist() == [[3]]
    # Larger inputs: x = [7, 7] = 1.75 each: products 0.875 -> 7 LSB each; 7 + 7 = 14 wraps to
    # -2 (WRAP) or stops at 7 (SAT).
    big = Tensor(np.array([[7, 7]]), T4_2)
    res_exact = FixedType(8, 4)
    assert dense(dense_layer(w, b, acc, res_exact), [big]).tolist() == [[-2 * 2]]
    sat = FixedType(4, 1, True, Rounding.TRN, Overflow.SAT)
    assert dense(dense_layer(w, b, sat, res_exact), [big]).tolist() == [[7 * 2]]
    # SAT is applied after every partial sum: bias -0.875 (-14 at 4 frac bits -> -7), then
    # +7 -> 0, +7 -> 7 (0.875). Adding the bias last would give 7 + 7 -> 7, -7 -> 0 instead.
    assert dense(dense_layer(w, [-14], sat, res_exact), [big]).tolist() == [[7 * 2]]


def test_dense_fast_and_step_paths_agree() -> None:
    rng = np.random.default_rng(0)
    w = rng.integers(-32, 32, (10, 5))
    b = rng.integers(-128, 128, 5)
    x = Tensor(rng.integers(-128, 128, (400, 10)), T4_2)
    res = FixedType(10, 5, True, Rounding.RND_CONV, Overflow.SAT)
    fast = dense(dense_layer(w, b, FixedType(12, 5), res), [x])  # wraps, lossless products
    step = dense(dense_layer(w, b, FixedType(12, 5, True, Rounding.RND, Overflow.WRAP), res), [x])
    np.testing.assert_array_equal(fast, step)


def test_merge_transpose_and_unknown_kind() -> None:
    a = Tensor(np.array([[1, -3]]), FixedType(6, 4))  # 0.25, -0.75
    b = Tensor(np.array([[1, 1]]), FixedType(6, 5))  # 0.5, 0.5
    out = FixedType(6, 4, True, Rounding.RND, Overflow.SAT)
    add = LayerIR("add", "merge", ["a", "b"], out, (2,), attrs={"op": "add"})
    assert merge(add, [a, b]).tolist() == [[3, -1]]  # 0.75, -0.25
    avg = LayerIR("avg", "merge", ["a", "b"], out, (2,), attrs={"op": "average"})
    assert merge(avg, [a, b]).tolist() == [[2, 0]]  # 0.375 -> 0.5 (RND), -0.125 -> 0
    cat = LayerIR("cat", "merge", ["a", "b"], out, (4,), attrs={"op": "concatenate", "axis": -1})
    assert merge(cat, [a, b]).tolist() == [[1, -3, 2, 2]]  # 0.5 at LSB 1/4 = 2
    tr = LayerIR("t", "transpose", ["x"], FixedType(8, 8), (3, 2), attrs={"perm": [1, 0]})
    x = Tensor(np.arange(6).reshape(1, 2, 3), FixedType(8, 8))
    assert transpose(tr, [x]).tolist() == [[[0, 3], [1, 4], [2, 5]]]
    with pytest.raises(DatrigError, match="softsign"):
        kernel_for(LayerIR("s", "softsign", ["x"], out, (2,)))


def test_runner_relu_network_by_hand() -> None:
    t_in = FixedType(8, 4, True, Rounding.RND_CONV, Overflow.SAT)  # LSB 1/16
    relu_t = FixedType(4, 2, False, Rounding.TRN, Overflow.SAT)  # LSB 1/4, [0, 3.75]
    ir = NetworkIR(
        "tiny",
        [
            LayerIR("in", "input", [], t_in, (3,)),
            LayerIR("relu", "relu", ["in"], relu_t, (3,)),
        ],
        ["relu"],
    )
    x = np.array([[-1.0, 0.40625, 100.0], [1 / 32, 3 / 32, -100.0]])
    # 0.40625 = 6.5/16 -> 6/16 (RND_CONV) -> TRN to 1/4 = 1; 100 -> SAT 7.9375 -> 3.75 (15);
    # 1/32 = 0.5/16 -> 0 (even); 3/32 = 1.5/16 -> 2/16 -> 0 at LSB 1/4.
    result = emulate(ir, x, trace=True)
    np.testing.assert_array_equal(result.mantissas, [[0, 1, 15], [0, 0, 0]])
    np.testing.assert_array_equal(result.output, [[0, 0.25, 3.75], [0, 0, 0]])
    np.testing.assert_array_equal(result.trace["in"][0], [-1.0, 0.375, 7.9375])
