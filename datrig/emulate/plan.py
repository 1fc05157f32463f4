"""A NetworkIR compiled once into float64-mantissa steps for the fast path.

Each layer uses its kind's fast step when that step can prove itself exact for the layer's
types and weights (:mod:`datrig.emulate.fast`), else its int64 reference kernel, so results
are always bit-identical to the reference (checked in tests/emulate/test_fast.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from datrig.emulate import fastops
from datrig.emulate.intervals import Interval
from datrig.emulate.kernels import Tensor
from datrig.emulate.kinds import kernel_for, kind_of
from datrig.ir.fixed import FixedType
from datrig.ir.network import LayerIR, NetworkIR

Fn = Callable[[list[np.ndarray]], np.ndarray]


@dataclass
class Step:
    """One layer: ``fn`` maps float64 input mantissas to float64 output mantissas."""

    layer: LayerIR
    fn: Fn
    interval: Interval
    native: bool  # False: runs the int64 reference kernel


def _reference_step(layer: LayerIR, in_types: list[FixedType]) -> Fn:
    kernel = kernel_for(layer)

    def fn(xs: list[np.ndarray]) -> np.ndarray:
        tensors = [Tensor(x.astype(np.int64), t) for x, t in zip(xs, in_types, strict=True)]
        return kernel(layer, tensors).astype(np.float64)

    return fn


def compile_plan(ir: NetworkIR) -> list[Step] | None:
    """Steps in execution order, or None when some type is too wide for float64 mantissas."""
    widths = [layer.result_t.width for layer in ir.layers]
    widths += [t.width for layer in ir.layers for t in layer.types.values()]
    if max(widths) > fastops.FLOAT_SAFE_BITS:
        return None
    intervals: dict[str, Interval] = {}
    types = {layer.name: layer.result_t for layer in ir.layers}
    steps = []
    for layer in ir.layers:
        ivs = [intervals[name] for name in layer.inputs]
        ts = [types[name] for name in layer.inputs]
        builder = kind_of(layer).fast
        built = builder(layer, ivs, ts) if builder else None
        if built is None:
            fn, iv, native = _reference_step(layer, ts), Interval.of_type(layer.result_t), False
        else:
            (fn, iv), native = built, True
        intervals[layer.name] = iv
        steps.append(Step(layer, fn, iv, native))
    return steps
