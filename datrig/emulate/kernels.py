"""Layer kernels: hls4ml's firmware arithmetic (Vivado nnet_utils, io_parallel) in numpy.

Each kernel takes the layer and its input tensors (int64 mantissas with their type, events on
axis 0) and returns the output mantissas, already cast to ``layer.result_t``. The order and
type of every cast follows the C++ templates, e.g. ``dense_latency``: each product cast to
accum_t, bias cast to accum_t, every partial sum cast to accum_t, result cast to res_t.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from datrig.emulate.fixed import apply_overflow, check_width, quantize
from datrig.errors import DatrigError
from datrig.ir.fixed import FixedType, Overflow
from datrig.ir.network import LayerIR

# float64 matmul is exact (and BLAS-fast) while every partial sum stays below 2**53.
_FLOAT_EXACT_BITS = 53


@dataclass
class Tensor:
    """Mantissas of one layer output for a chunk of events: shape (n_events, *layer.shape)."""

    mantissa: np.ndarray
    type: FixedType


Kernel = Callable[[LayerIR, list[Tensor]], np.ndarray]


def _single(layer: LayerIR, xs: list[Tensor]) -> Tensor:
    if len(xs) != 1:
        raise DatrigError(f"layer {layer.name} ({layer.kind}) expects 1 input, got {len(xs)}")
    return xs[0]


def _max_abs(a: np.ndarray) -> int:
    return max(-int(a.min()), int(a.max())) if a.size else 0


def dense(layer: LayerIR, xs: list[Tensor]) -> np.ndarray:
    """y = x @ W + b over the last axis (also pointwise conv1d), with accum_t semantics."""
    x = _single(layer, xs)
    w, b = layer.tensors["weight"], layer.tensors["bias"]
    wt, bt = layer.tensor_types["weight"], layer.tensor_types["bias"]
    acc_t = layer.types["accum_t"]
    n_in = w.shape[0]
    prod_frac = x.type.fractional + wt.fractional
    check_width(x.type.width + wt.width, f"layer {layer.name} products")
    acc = np.broadcast_to(quantize(b, bt.fractional, acc_t), (*x.mantissa.shape[:-1], w.shape[1]))

    max_prod = _max_abs(x.mantissa) * _max_abs(w)
    lossless_products = (
        acc_t.fractional >= prod_frac
        and (max_prod << (acc_t.fractional - prod_frac)) <= acc_t.max_mantissa
    )
    if lossless_products and acc_t.overflow is Overflow.WRAP:
        # Products are exact in accum_t and wrapping is modular: one sum, one wrap at the end.
        shift = acc_t.fractional - prod_frac
        total_bits = (n_in * max_prod).bit_length() + shift + 1
        if total_bits <= _FLOAT_EXACT_BITS:
            mm = x.mantissa.astype(np.float64) @ w.astype(np.float64)
            total = mm.astype(np.int64) << shift
        else:
            check_width(total_bits, f"layer {layer.name} accumulation")
            total = np.matmul(x.mantissa, w) << shift
        acc = apply_overflow(total + acc, acc_t)
    else:
        # Products rounded or partial sums saturating: replicate the C++ order step by step.
        acc = acc.copy()
        for i in range(n_in):
            prod = x.mantissa[..., i, None] * w[i]
            acc = quantize(acc + quantize(prod, prod_frac, acc_t), acc_t.fractional, acc_t)
    return quantize(acc, acc_t.fractional, layer.result_t)


def linear(layer: LayerIR, xs: list[Tensor]) -> np.ndarray:
    """res = (res_T) data."""
    x = _single(layer, xs)
    return quantize(x.mantissa, x.type.fractional, layer.result_t)


def relu(layer: LayerIR, xs: list[Tensor]) -> np.ndarray:
    """Compare in the input type, then cast: res = data > 0 ? (res_T) data : 0."""
    x = _single(layer, xs)
    return quantize(np.maximum(x.mantissa, 0), x.type.fractional, layer.result_t)


def batchnorm(layer: LayerIR, xs: list[Tensor]) -> np.ndarray:
    """res = (res_T)(data * scale + bias), product and sum exact (also hls4ml's ApplyAlpha)."""
    x = _single(layer, xs)
    s, b = layer.tensors["scale"], layer.tensors["bias"]
    st, bt = layer.tensor_types["scale"], layer.tensor_types["bias"]
    shape = x.mantissa.shape[1:]
    s = np.broadcast_to(s, shape) if s.size != int(np.prod(shape)) else s.reshape(shape)
    b = np.broadcast_to(b, shape) if b.size != int(np.prod(shape)) else b.reshape(shape)
    prod_frac = x.type.fractional + st.fractional
    frac = max(prod_frac, bt.fractional)
    check_width(x.type.width + st.width + abs(prod_frac - bt.fractional) + 1, layer.name)
    total = (x.mantissa * s << (frac - prod_frac)) + (b << (frac - bt.fractional))
    return quantize(total, frac, layer.result_t)


def _aligned(xs: list[Tensor]) -> tuple[list[np.ndarray], int]:
    frac = max(t.type.fractional for t in xs)
    for t in xs:
        check_width(t.type.width + frac - t.type.fractional + 1, "merge operands")
    return [t.mantissa << (frac - t.type.fractional) for t in xs], frac


def merge(layer: LayerIR, xs: list[Tensor]) -> np.ndarray:
    """Element-wise merge of two inputs (exact operation, then cast) or concatenation."""
    op = layer.attrs["op"]
    if op == "concatenate":
        axis = int(layer.attrs["axis"])
        parts = [quantize(t.mantissa, t.type.fractional, layer.result_t) for t in xs]
        return np.concatenate(parts, axis=axis if axis < 0 else axis + 1)
    if len(xs) != 2:
        raise DatrigError(f"merge layer {layer.name} expects 2 inputs, got {len(xs)}")
    if op == "multiply":
        a, b = xs
        check_width(a.type.width + b.type.width, layer.name)
        frac = a.type.fractional + b.type.fractional
        return quantize(a.mantissa * b.mantissa, frac, layer.result_t)
    (a, b), frac = _aligned(xs)
    if op == "add":
        return quantize(a + b, frac, layer.result_t)
    if op == "subtract":
        return quantize(a - b, frac, layer.result_t)
    if op == "average":  # (a + b) * ap_ufixed<1,0>(0.5): exact halving
        return quantize(a + b, frac + 1, layer.result_t)
    if op == "maximum":
        return quantize(np.maximum(a, b), frac, layer.result_t)
    if op == "minimum":
        return quantize(np.minimum(a, b), frac, layer.result_t)
    raise DatrigError(f"merge layer {layer.name}: unsupported operation {op!r}")


def reshape(layer: LayerIR, xs: list[Tensor]) -> np.ndarray:
    """Row-major reshape (hls4ml's Reshape/Flatten do not move data); then cast."""
    x = _single(layer, xs)
    m = x.mantissa.reshape((x.mantissa.shape[0], *layer.shape))
    return quantize(m, x.type.fractional, layer.result_t)


def transpose(layer: LayerIR, xs: list[Tensor]) -> np.ndarray:
    """Permute the per-event axes (``attrs['perm']`` excludes the event axis); then cast."""
    x = _single(layer, xs)
    perm = [0, *(int(p) + 1 for p in layer.attrs["perm"])]
    return quantize(np.transpose(x.mantissa, perm), x.type.fractional, layer.result_t)
