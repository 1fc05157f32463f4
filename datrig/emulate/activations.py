"""Table-based and parametrised activations of hls4ml 1.3.0 (``nnet_activation.h``, io_parallel).

The tables themselves are built at export (``datrig.emulate.lut``) and stored in the layer's
tensors; these kernels reproduce how the C++ indexes them, bit for bit:

* sigmoid / tanh / legacy softmax: ``index = int(x * N / R) + N / 2`` (``int()`` truncates
  toward zero), clamped to ``[0, N)``, R = 16 (sigmoid, legacy exp), 8 (tanh), 64 (legacy 1/x);
* latency / stable softmax: the index is the top ``ceillog2(N)`` bits of the two's-complement
  pattern of the addressing type; the exp sum is hls4ml's balanced adder tree in accum_t.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from datrig.emulate.fixed import check_width, quantize
from datrig.errors import DatrigError
from datrig.ir.fixed import FixedType
from datrig.ir.network import LayerIR


def _single(layer: LayerIR, xs: list[Any]) -> Any:
    if len(xs) != 1:
        raise DatrigError(f"layer {layer.name} ({layer.kind}) expects 1 input, got {len(xs)}")
    return xs[0]


def ceillog2(n: int) -> int:
    """nnet_common.h ``ceillog2``: 1 for n <= 2, else 1 + ceillog2((n + 1) / 2)."""
    return 1 if n <= 2 else 1 + ceillog2((n + 1) // 2)


def _trunc_div(num: np.ndarray, den: int) -> np.ndarray:
    """C integer division (toward zero) by a positive ``den``."""
    q = np.abs(num) // den
    return np.where(num < 0, -q, q)


def scaled_index(m: np.ndarray, t: FixedType, n_table: int, span: int, offset: int) -> np.ndarray:
    """``int(x * n_table / span) + offset`` clamped to ``[0, n_table)`` for mantissas of ``t``."""
    check_width(t.width + n_table.bit_length() + max(-t.fractional, 0), "table index")
    num = m * n_table
    if t.fractional >= 0:
        rounded = _trunc_div(num, span << t.fractional)
    else:
        rounded = _trunc_div(num << -t.fractional, span)
    return np.clip(rounded + offset, 0, n_table - 1)


def top_bits_index(m: np.ndarray, t: FixedType, n_table: int) -> np.ndarray:
    """softmax_idx_from_real_val: the top ceillog2(N) bits of ``t``'s raw bit pattern."""
    n_bits = ceillog2(n_table)
    raw = m & ((1 << t.width) - 1)
    return raw >> (t.width - n_bits)


def _lookup(layer: LayerIR, xs: list[Any], span: int) -> np.ndarray:
    x = _single(layer, xs)
    table, table_t = layer.tensors["table"], layer.tensor_types["table"]
    n = len(table)
    idx = scaled_index(x.mantissa, x.type, n, span, n // 2)
    return quantize(table[idx], table_t.fractional, layer.result_t)


def sigmoid(layer: LayerIR, xs: list[Any]) -> np.ndarray:
    """res = (res_T) sigmoid_table[int(x * N / 16) + N / 2] (table spans x in [-8, 8))."""
    return _lookup(layer, xs, 16)


def tanh(layer: LayerIR, xs: list[Any]) -> np.ndarray:
    """res = (res_T) tanh_table[int(x * N / 8) + N / 2] (table spans x in [-4, 4))."""
    return _lookup(layer, xs, 8)


def leaky_relu(layer: LayerIR, xs: list[Any]) -> np.ndarray:
    """res = x > 0 ? (res_T) x : (res_T)(alpha * x), the product exact."""
    x = _single(layer, xs)
    alpha, alpha_t = layer.tensors["alpha"], layer.tensor_types["alpha"]
    frac = x.type.fractional + alpha_t.fractional
    check_width(x.type.width + alpha_t.width, f"layer {layer.name} alpha product")
    pos = quantize(x.mantissa, x.type.fractional, layer.result_t)
    neg = quantize(x.mantissa * alpha.reshape(()), frac, layer.result_t)
    return np.where(x.mantissa > 0, pos, neg)


def _tree_sum(values: list[np.ndarray], frac: int, acc_t: FixedType) -> np.ndarray:
    """nnet::reduce with Op_add<accum_t>: balanced tree, every sum cast to accum_t."""
    n = len(values)
    if n == 1:
        return values[0]
    if n == 2:
        return quantize(values[0] + values[1], frac, acc_t)
    left = 1 << ((n - 1).bit_length() - 1)  # pow2(floorlog2(n - 1))
    return quantize(
        _tree_sum(values[:left], frac, acc_t) + _tree_sum(values[left:], frac, acc_t), frac, acc_t
    )


def _softmax_lut(layer: LayerIR, exp_idx: np.ndarray) -> np.ndarray:
    """Shared tail of the latency and stable softmax: exp lookup, tree sum, 1/sum lookup."""
    acc_t = layer.types["accum_t"]
    inv_inp_t = layer.types["inv_inp_t"]
    exp_t, inv_t = layer.tensor_types["exp_table"], layer.tensor_types["inv_table"]
    exp_res = quantize(layer.tensors["exp_table"][exp_idx], exp_t.fractional, acc_t)
    total = _tree_sum([exp_res[..., i] for i in range(exp_res.shape[-1])], acc_t.fractional, acc_t)
    exp_sum = quantize(total, acc_t.fractional, inv_inp_t)
    inv_table = layer.tensors["inv_table"]
    inv = inv_table[top_bits_index(exp_sum, inv_inp_t, len(inv_table))]
    check_width(acc_t.width + inv_t.width, f"layer {layer.name} output product")
    prod = exp_res * inv[..., None]
    return quantize(prod, acc_t.fractional + inv_t.fractional, layer.result_t)


def _softmax_legacy(layer: LayerIR, x: Any) -> np.ndarray:
    table_t = layer.tensor_types["exp_table"]
    exp_table, inv_table = layer.tensors["exp_table"], layer.tensors["inv_table"]
    n_exp, n_inv = len(exp_table), len(inv_table)
    m, t = x.mantissa, x.type
    diff_t = FixedType(t.width + 1, t.integer + 1, True)  # data_T - data_T is exact
    one = quantize(np.array([1]), 0, table_t)[0]  # exp_diff_res = 1
    n_slice = m.shape[-1]
    sums = []
    for i in range(n_slice):
        acc = np.zeros(m.shape[:-1], dtype=np.int64)
        for j in range(n_slice):
            if i == j:
                term = np.broadcast_to(np.int64(one), acc.shape)
            else:
                idx = scaled_index(m[..., j] - m[..., i], diff_t, n_exp, 16, n_exp // 2)
                term = exp_table[idx]
            acc = quantize(acc + term, table_t.fractional, table_t)
        sums.append(acc)
    exp_res = np.stack(sums, axis=-1)
    idx = scaled_index(exp_res, table_t, n_inv, 64, 0)
    return quantize(inv_table[idx], table_t.fractional, layer.result_t)


def softmax(layer: LayerIR, xs: list[Any]) -> np.ndarray:
    """Softmax over the last axis with hls4ml's ``implementation`` (latency, stable, legacy)."""
    x = _single(layer, xs)
    impl = layer.attrs["implementation"]
    if impl == "latency":
        n_exp = len(layer.tensors["exp_table"])
        return _softmax_lut(layer, top_bits_index(x.mantissa, x.type, n_exp))
    if impl == "stable":
        norm_t = layer.types["inp_norm_t"]
        x_max = x.mantissa.max(axis=-1, keepdims=True)
        d = quantize(x_max - x.mantissa, x.type.fractional, norm_t)
        return _softmax_lut(layer, top_bits_index(d, norm_t, len(layer.tensors["exp_table"])))
    if impl == "legacy":
        return _softmax_legacy(layer, x)
    raise DatrigError(f"layer {layer.name}: softmax implementation {impl!r} is not emulated")
