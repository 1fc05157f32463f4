"""The fast path: float64-mantissa layer steps, proven exact (assembled by ``emulate.plan``).

Why: the int64 reference kernels spend most of their time converting around the matmul and
re-checking ranges. Here every mantissa stays a float64 integer (exact below 2**53), interval
analysis (``datrig.emulate.intervals``) decides per layer which overflow handling can trigger
at all, and dense layers use one BLAS matmul (float32 when every partial sum stays below
2**24). Layers the fast path cannot prove exact run the int64 reference kernel, so results
are always bit-identical to ``datrig.emulate.kernels`` (checked in tests/emulate/test_fast.py).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from datrig.emulate import fastops
from datrig.emulate.fixed import quantize
from datrig.emulate.intervals import Interval, dense_sum, plan_cast
from datrig.ir.fixed import FixedType, Overflow
from datrig.ir.network import LayerIR

Fn = Callable[[list[np.ndarray]], np.ndarray]
FLOAT32_EXACT_BITS = 24


Builder = Callable[[LayerIR, list[Interval], list[FixedType]], "tuple[Fn, Interval] | None"]


def _cast_fn(x: Interval, frac_in: int, to: FixedType) -> tuple[Callable, Interval]:
    """A cast that never modifies its argument (returns it unchanged when provably a no-op)."""
    plan = plan_cast(x, frac_in, to)

    def cast(v: np.ndarray, fresh: bool = False) -> np.ndarray:
        if plan.shift > 0:
            v, fresh = fastops.round_shift(v, plan.shift, to.rounding), True
        elif plan.shift < 0:
            v, fresh = v * 2.0**-plan.shift, True
        if plan.needs_overflow:
            v = fastops.overflow(v if fresh else v.copy(), to)
        return v

    return cast, plan.result


def input_step(layer: LayerIR, _: list[Interval], __: list[FixedType]) -> tuple[Fn, Interval]:
    t = layer.result_t
    return (lambda xs: fastops.from_float(xs[0], t)), Interval.of_type(t)


def linear_step(layer: LayerIR, ivs: list[Interval], ts: list[FixedType]) -> tuple[Fn, Interval]:
    cast, out = _cast_fn(ivs[0], ts[0].fractional, layer.result_t)
    return (lambda xs: cast(xs[0])), out


def relu_step(layer: LayerIR, ivs: list[Interval], ts: list[FixedType]) -> tuple[Fn, Interval]:
    pos = Interval(max(ivs[0].lo, 0), max(ivs[0].hi, 0))
    cast, out = _cast_fn(pos, ts[0].fractional, layer.result_t)
    return (lambda xs: cast(np.maximum(xs[0], 0.0), fresh=True)), out


def reshape_step(layer: LayerIR, ivs: list[Interval], ts: list[FixedType]) -> tuple[Fn, Interval]:
    cast, out = _cast_fn(ivs[0], ts[0].fractional, layer.result_t)
    if layer.kind == "transpose":
        perm = [0, *(int(p) + 1 for p in layer.attrs["perm"])]
        return (lambda xs: cast(np.ascontiguousarray(np.transpose(xs[0], perm)), fresh=True)), out
    shape = tuple(layer.shape)
    return (lambda xs: cast(xs[0].reshape((len(xs[0]), *shape)))), out


def dense_step(
    layer: LayerIR, ivs: list[Interval], ts: list[FixedType]
) -> tuple[Fn, Interval] | None:
    """One matmul + bias, when products are exact in accum_t and no partial sum can saturate."""
    x_iv, x_t = ivs[0], ts[0]
    w, b = layer.tensors["weight"], layer.tensors["bias"]
    wt, bt = layer.tensor_types["weight"], layer.tensor_types["bias"]
    acc_t = layer.types["accum_t"]
    shift = acc_t.fractional - (x_t.fractional + wt.fractional)
    if shift < 0:
        return None  # products are rounded one by one: the reference kernel does that
    bias_acc = quantize(b, bt.fractional, acc_t)
    total, partial = dense_sum(x_iv, w.astype(np.int64) << shift, bias_acc)
    if max(total.max_abs, partial).bit_length() > fastops.FLOAT_SAFE_BITS:
        return None
    if acc_t.overflow is not Overflow.WRAP:
        # Saturation acts on every partial sum; skip it only when none can leave the range.
        lowest = -acc_t.max_mantissa if acc_t.overflow is Overflow.SAT_SYM else acc_t.min_mantissa
        if not acc_t.signed or partial > acc_t.max_mantissa or -partial < lowest:
            return None
    acc_cast = plan_cast(total, acc_t.fractional, acc_t)  # shift 0: overflow only
    cast, out = _cast_fn(acc_cast.result, acc_t.fractional, layer.result_t)
    use32 = (x_iv.max_abs * int(np.abs(w).sum(axis=0).max())).bit_length() < FLOAT32_EXACT_BITS
    w_f = w.astype(np.float32 if use32 else np.float64)
    b_f = bias_acc.astype(np.float64)
    scale = 2.0**shift

    def fn(xs: list[np.ndarray]) -> np.ndarray:
        x = xs[0]
        mm = (x.astype(np.float32) @ w_f).astype(np.float64) if use32 else x @ w_f
        if shift:
            mm *= scale
        mm += b_f
        if acc_cast.needs_overflow:
            mm = fastops.overflow(mm, acc_t)
        return cast(mm, fresh=True)

    return fn, out
