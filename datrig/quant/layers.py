"""Factories for Brevitas layers with power-of-two fixed-point quantizers.

Weights use Brevitas' ``Int8WeightPerTensorFixedPoint`` (per-tensor power-of-two scale from the
weight maximum), biases an internally scaled power-of-two quantizer (independent of the input
scale, so hls4ml needs no rescaling), hidden ReLUs a learned power-of-two radix point, and the
input/output quantizers constant power-of-two scales (their ranges are fixed by the config).
Bit widths are set per layer through Brevitas' ``*_bit_width`` keyword overrides.
"""

from __future__ import annotations

from brevitas.inject.enum import BitWidthImplType, FloatToIntImplType, ScalingImplType
from brevitas.nn import QuantConv1d, QuantIdentity, QuantLinear, QuantReLU
from brevitas.quant.base import IntQuant, PerTensorPoTScaling8bit
from brevitas.quant.fixed_point import (
    Int8ActPerTensorFixedPointMinMaxInit,
    Int8BiasPerTensorFixedPointInternalScaling,
    Int8WeightPerTensorFixedPoint,
    Uint8ActPerTensorFixedPointMaxInit,
)
from brevitas.quant.solver.weight import WeightQuantSolver

from datrig.quant.config import LayerBits


class ConstPoTWeight(IntQuant, PerTensorPoTScaling8bit, WeightQuantSolver):
    """Signed weights with a constant power-of-two scale (``scaling_init`` = range).

    Used for frozen weights such as the Deep Sets averaging matrix, whose values (1/n) sit
    exactly at a power of two and would overflow a max-statistics scale by one LSB.
    """

    scaling_impl_type = ScalingImplType.CONST


def _const_scale_identity(bits: int, max_val: float, *, return_quant_tensor: bool):
    return QuantIdentity(
        act_quant=Int8ActPerTensorFixedPointMinMaxInit,
        scaling_impl_type=ScalingImplType.CONST,
        min_val=-float(max_val),
        max_val=float(max_val),
        bit_width=bits,
        return_quant_tensor=return_quant_tensor,
    )


def input_quant(bits: int, max_val: float) -> QuantIdentity:
    """Signed constant-scale quantizer on the (already normalised) network input."""
    return _const_scale_identity(bits, max_val, return_quant_tensor=True)


def output_quant(bits: int, max_val: float) -> QuantIdentity:
    """Signed constant-scale quantizer on the network output (hls4ml needs its precision)."""
    return _const_scale_identity(bits, max_val, return_quant_tensor=False)


MIN_LEARNED_BITS = 2  # a learned bit width never goes below this


def _learned_width(learned: bool, prefix: str = "") -> dict:
    """Brevitas keywords that make a quantizer's bit width a trained parameter (``prefix``:
    ``"weight_"`` for a layer's weight quantizer, empty for an activation quantizer)."""
    if not learned:
        return {}
    return {
        f"{prefix}bit_width_impl_type": BitWidthImplType.PARAMETER,
        f"{prefix}min_bit_width": MIN_LEARNED_BITS,
    }


def _weight_and_bias_quant(bits: LayerBits) -> dict:
    """Power-of-two fixed-point weight and bias quantizers shared by every weighted layer."""
    return {
        "weight_quant": Int8WeightPerTensorFixedPoint,
        "weight_bit_width": bits.weight,
        "bias_quant": Int8BiasPerTensorFixedPointInternalScaling,
        "bias_bit_width": bits.bias,
        "return_quant_tensor": False,
        **_learned_width(bits.learned, "weight_"),
    }


def linear(n_in: int, n_out: int, bits: LayerBits) -> QuantLinear:
    return QuantLinear(n_in, n_out, bias=True, **_weight_and_bias_quant(bits))


def conv1x1(n_in: int, n_out: int, bits: LayerBits) -> QuantConv1d:
    """Per-node dense layer of a Deep Sets network: Conv1d with kernel 1 over (N, C, nodes)."""
    return QuantConv1d(n_in, n_out, kernel_size=1, bias=True, **_weight_and_bias_quant(bits))


def relu(bits: LayerBits, max_val: float, rounding: str = "round") -> QuantReLU:
    """Unsigned ReLU quantizer of ``bits.act`` bits; power-of-two radix point learned from
    ``max_val`` (and, with ``bits.learned``, the bit width too). ``rounding``: "round" (half
    to even, exported as QONNX ROUND = ap_fixed RND_CONV) or "floor" (QONNX FLOOR = AP_TRN)."""
    floor = {"float_to_int_impl_type": FloatToIntImplType.FLOOR} if rounding == "floor" else {}
    return QuantReLU(
        act_quant=Uint8ActPerTensorFixedPointMaxInit,
        max_val=float(max_val),
        bit_width=bits.act,
        return_quant_tensor=True,
        **_learned_width(bits.learned),
        **floor,
    )


def constant_linear(n_in: int, n_out: int, bits: int, max_val: float) -> QuantLinear:
    """Bias-free linear layer for frozen constant weights with a constant power-of-two scale."""
    return QuantLinear(
        n_in,
        n_out,
        bias=False,
        weight_quant=ConstPoTWeight,
        weight_scaling_init=float(max_val),
        weight_bit_width=bits,
        return_quant_tensor=False,
    )
