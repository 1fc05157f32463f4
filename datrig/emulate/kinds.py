"""Every layer kind of the emulator IR, in one registry: what it computes and how.

Each kind has an int64 reference kernel that follows hls4ml's C++ cast by cast
(:mod:`datrig.emulate.kernels`, :mod:`datrig.emulate.activations`) and, optionally, a float64
fast step proven exact by interval analysis (:mod:`datrig.emulate.fast`; without one, the
fast path runs the reference kernel). Adding a kind touches three places, one per layer of the
pipeline: an entry here; the converter from its hls4ml layer class
(``datrig.export.to_ir.CONVERTERS``); and, optionally, an RTL tracer
(``datrig.firmware.rtl.TRACERS``; without one, firmware reports use the analytic estimate).

========================  ===================================================================
kind                      computes
========================  ===================================================================
input                     the event's float inputs cast to the input type
dense                     y = x W + b, products and partial sums in accum_t
pointwise_conv1d          dense over the channels of every node (Deep Sets per-node layer)
linear                    a cast to the result type (quantizer, identity)
relu                      max(x, 0), then the cast
leaky_relu                x > 0 ? x : alpha x, alpha in param_t
sigmoid, tanh             table lookup (hls4ml's init tables, table_t entries)
softmax                   stable/latency/legacy softmax: exp and 1/sum tables, tree sum
batchnorm                 x * scale + bias (also hls4ml's ApplyAlpha)
merge                     add/subtract/multiply/average/maximum/minimum/concatenate
reshape, transpose        data movement, then the cast
========================  ===================================================================
"""

from __future__ import annotations

from dataclasses import dataclass

from datrig.emulate import activations, fast, kernels
from datrig.emulate.fast import Builder
from datrig.emulate.kernels import Kernel
from datrig.errors import DatrigError
from datrig.ir.network import LayerIR


@dataclass(frozen=True)
class LayerKind:
    """One kind: its reference kernel (None only for the input), its optional exact fast
    step, and whether it is a constant matrix-vector product (what cost models count)."""

    kernel: Kernel | None
    fast: Builder | None = None
    matmul: bool = False


LAYER_KINDS: dict[str, LayerKind] = {
    "input": LayerKind(None, fast.input_step),
    "dense": LayerKind(kernels.dense, fast.dense_step, matmul=True),
    "pointwise_conv1d": LayerKind(kernels.dense, fast.dense_step, matmul=True),
    "linear": LayerKind(kernels.linear, fast.linear_step),
    "relu": LayerKind(kernels.relu, fast.relu_step),
    "leaky_relu": LayerKind(activations.leaky_relu),
    "sigmoid": LayerKind(activations.sigmoid),
    "tanh": LayerKind(activations.tanh),
    "softmax": LayerKind(activations.softmax),
    "batchnorm": LayerKind(kernels.batchnorm),
    "merge": LayerKind(kernels.merge),
    "reshape": LayerKind(kernels.reshape, fast.reshape_step),
    "transpose": LayerKind(kernels.transpose, fast.reshape_step),
}


def kind_of(layer: LayerIR) -> LayerKind:
    try:
        return LAYER_KINDS[layer.kind]
    except KeyError:
        known = ", ".join(sorted(LAYER_KINDS))
        raise DatrigError(
            f"layer {layer.name}: the emulator has no kernel for kind {layer.kind!r} "
            f"(supported: {known})"
        ) from None


def kernel_for(layer: LayerIR) -> Kernel:
    """The reference kernel of a (non-input) layer."""
    kernel = kind_of(layer).kernel
    if kernel is None:
        raise DatrigError(f"layer {layer.name}: {layer.kind!r} layers have no kernel")
    return kernel
