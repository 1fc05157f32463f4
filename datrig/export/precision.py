"""Derive fixed-point types so the hls4ml model computes exactly what the QONNX graph does.

hls4ml's defaults (``fixed<16,6>`` with truncation on the input, bias and pooling types) lose
bits silently: measured here, C-sim then agreed with the QONNX executor on ~89-96% of events.
The rules, applied layer by layer on the converted :class:`hls4ml.model.graph.ModelGraph`:

- input: the first quantizer's type (its rounding RND_CONV = QONNX half-to-even, and SAT),
  so float inputs are rounded once, as QONNX does;
- biases: the narrowest type holding every bias value exactly;
- accumulators (and results not fixed by a following quantizer): wide enough for the exact
  worst-case range computed from the weights and the input interval, so nothing is rounded or
  wraps; only a quantizer (a type with a rounding/saturation mode) ever rounds;
- pass-through layers (reshape, transpose, flatten): the type of their input.

Intervals are worst-case over all elements of a tensor: ``(lo, hi, frac)`` in real units.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from datrig.errors import DatrigError
from datrig.ir.fixed import FixedType, Overflow, Rounding

MAX_FRACTION_BITS = 40  # exact representations of float32 constants need at most ~40 here
PASS_THROUGH = ("Reshape", "Transpose", "Flatten")
LINEAR_KERNELS = ("Dense", "Conv1D", "PointwiseConv1D", "Conv2D", "PointwiseConv2D")


@dataclass(frozen=True)
class Interval:
    """Worst-case value range of a tensor and the number of fractional bits its grid needs."""

    lo: float
    hi: float
    frac: int

    @classmethod
    def of_type(cls, t: FixedType) -> Interval:
        return cls(t.min_mantissa * t.lsb, t.max_mantissa * t.lsb, t.fractional)


def exact_type(lo: float, hi: float, frac: int, signed: bool = True) -> FixedType:
    """The narrowest type with ``frac`` fractional bits that holds [lo, hi] exactly."""
    m_lo = math.floor(lo * 2.0**frac)
    m_hi = math.ceil(hi * 2.0**frac)
    if signed:
        need = max(m_hi, -m_lo - 1, 0)
        width = max(need.bit_length() + 1, 2)
    else:
        width = max(max(m_hi, 0).bit_length(), 1)
    return FixedType(width, width - frac, signed, Rounding.TRN, Overflow.WRAP)


def fraction_bits(values: np.ndarray) -> int:
    """Smallest f such that every value times 2**f is an integer (DatrigError beyond the cap)."""
    values = np.asarray(values, dtype=np.float64).ravel()
    for f in range(-8, MAX_FRACTION_BITS + 1):
        scaled = values * 2.0**f
        if np.all(scaled == np.round(scaled)):
            return f
    raise DatrigError(
        f"constants need more than {MAX_FRACTION_BITS} fractional bits; the model is not on a "
        "power-of-two grid (use power-of-two fixed-point quantizers)"
    )


def to_fixed(precision: Any) -> FixedType | None:
    """hls4ml precision object -> FixedType (None for non-fixed types such as floats)."""
    text = str(precision)
    try:
        return FixedType.parse(text.replace(",0>", ">") if text.count(",") >= 4 else text)
    except ValueError:
        return None


def is_quantizer_type(t: FixedType | None) -> bool:
    """Types set from a QONNX Quant node carry a rounding/saturation mode; defaults do not."""
    return t is not None and (t.rounding != Rounding.TRN or t.overflow != Overflow.WRAP)


def derive_precisions(
    hls_model: Any, input_type: FixedType | None = None
) -> dict[str, dict[str, FixedType]]:
    """Plan ``{layer: {type_name: FixedType}}`` (type names as hls4ml: result_t, accum_t, ...)."""
    layers = list(hls_model.get_layers())
    plan: dict[str, dict[str, FixedType]] = {}
    ranges: dict[str, Interval] = {}
    for i, layer in enumerate(layers):
        kind = layer.class_name
        types: dict[str, FixedType] = {}
        result = to_fixed(layer.get_output_variable().type.precision)
        in_range = _input_range(layer, ranges)
        if kind == "Input":
            t = input_type or _first_quantizer(layers[i + 1 :]) or result
            if t is None:
                raise DatrigError("cannot determine the input type; give a first quantizer")
            types["result_t"] = t
            out = Interval.of_type(t)
        elif kind in LINEAR_KERNELS and in_range is not None:
            out, types = _linear_plan(layer, in_range, result)
        elif kind in PASS_THROUGH and in_range is not None:
            types["result_t"] = _prev_type(layer, plan) or result
            out = in_range
        elif kind == "Activation" and in_range is not None:
            out, types = _activation_plan(layer, in_range, result)
        elif kind == "Merge" and layer.get_attr("op", "").lower() == "add":
            rs = [ranges[n] for n in layer.inputs if n in ranges]
            if len(rs) == len(layer.inputs):
                frac = max(r.frac for r in rs)
                lo, hi = sum(r.lo for r in rs), sum(r.hi for r in rs)
                types["result_t"] = exact_type(lo, hi, frac)
                out = Interval(lo, hi, frac)
            else:
                out = Interval.of_type(result) if result else None
        elif kind == "Softmax" and in_range is not None:
            types = softmax_table_types(int(layer.get_input_variable().shape[-1]))
            out = Interval.of_type(result) if result else None
        else:  # sigmoid, tanh, ApplyAlpha, ...: keep hls4ml's types; verification decides
            out = Interval.of_type(result) if result else None
        if types:
            plan[layer.name] = types
        if out is not None:
            ranges[layer.name] = out
            for name in layer.outputs:
                ranges[name] = out
    return plan


SOFTMAX_TABLE_WIDTH = 18  # hls4ml's default table width; the split of its bits is derived


def softmax_table_types(n_classes: int) -> dict[str, FixedType]:
    """Stable-softmax types fitted to what the tables hold: exp(-d) in (0, 1], the sum of
    ``n_classes`` of them in [1, n_classes] and its inverse in (0, 1].

    hls4ml's default ``fixed<18,8>`` for all of them addresses ``1/sum`` on a 0.25 grid (up to
    25 % relative error, measured max |diff| 0.19 on the QKeras jet tagger); with the integer
    bits the sum actually needs, the grid is 2**(ceil(log2(n+1)) + 1 - 10).
    """
    w = SOFTMAX_TABLE_WIDTH
    sum_int = max(n_classes, 1).bit_length() + 1  # signed, holds n_classes
    unit = FixedType(w, 2, True, Rounding.RND, Overflow.SAT)  # [-2, 2): exp and 1/sum values
    return {
        "exp_table_t": unit,
        "inv_table_t": unit,
        "accum_t": FixedType(w - 2 + sum_int, sum_int, True, Rounding.RND, Overflow.SAT),
        "inv_inp_t": FixedType(w, sum_int, True, Rounding.RND, Overflow.SAT),
    }


def _input_range(layer: Any, ranges: dict[str, Interval]) -> Interval | None:
    if not layer.inputs:
        return None
    return ranges.get(layer.inputs[0])


def _prev_type(layer: Any, plan: dict[str, dict[str, FixedType]]) -> FixedType | None:
    node = layer.get_input_node(layer.inputs[0])
    if node is not None and node.name in plan and "result_t" in plan[node.name]:
        return plan[node.name]["result_t"]
    return to_fixed(layer.get_input_variable().type.precision)


def _first_quantizer(layers: list[Any]) -> FixedType | None:
    for layer in layers:
        if layer.class_name in PASS_THROUGH:
            continue
        t = to_fixed(layer.get_output_variable().type.precision)
        if layer.class_name == "Activation" and layer.get_attr("activation") == "linear":
            return t if is_quantizer_type(t) else None
        return None
    return None


def _linear_plan(
    layer: Any, x: Interval, result: FixedType | None
) -> tuple[Interval, dict[str, FixedType]]:
    types: dict[str, FixedType] = {}
    w = np.asarray(layer.weights["weight"].data, dtype=np.float64)
    n_out = layer.get_output_variable().shape[-1]
    w2 = w.reshape(-1, n_out) if w.ndim != 2 or w.shape[-1] != n_out else w
    f_w = fraction_bits(w2)
    w_type = to_fixed(layer.weights["weight"].type.precision)
    if w_type is None or w_type.fractional < f_w or not _holds(w_type, w2):
        types["weight_t"] = exact_type(w2.min(), w2.max(), f_w)
    bias = layer.weights.get("bias")
    b = np.zeros(n_out) if bias is None else np.asarray(bias.data, np.float64).ravel()
    f_b = fraction_bits(b) if np.any(b) else 0
    if bias is not None:
        types["bias_t"] = exact_type(min(b.min(), 0.0), max(b.max(), 0.0), max(f_b, 0))
    lo = b + np.minimum(w2 * x.lo, w2 * x.hi).sum(axis=0)
    hi = b + np.maximum(w2 * x.lo, w2 * x.hi).sum(axis=0)
    frac = max(x.frac + f_w, f_b, 0)
    accum = exact_type(float(lo.min()), float(hi.max()), frac)
    types["accum_t"] = accum
    if is_quantizer_type(result):
        types["result_t"] = result
        out = _clip(Interval(float(lo.min()), float(hi.max()), frac), result)
    else:
        types["result_t"] = accum
        out = Interval(float(lo.min()), float(hi.max()), frac)
    return out, types


def _activation_plan(
    layer: Any, x: Interval, result: FixedType | None
) -> tuple[Interval | None, dict[str, FixedType]]:
    act = str(layer.get_attr("activation", "")).lower()
    if act == "linear":
        if is_quantizer_type(result):
            return _clip(x, result), {}
        t = exact_type(x.lo, x.hi, x.frac)
        return x, {"result_t": t}
    if act == "relu":
        relu = Interval(max(x.lo, 0.0), max(x.hi, 0.0), x.frac)
        if is_quantizer_type(result):
            return _clip(relu, result), {}
        t = exact_type(relu.lo, relu.hi, relu.frac, signed=False)
        return relu, {"result_t": t}
    return (Interval.of_type(result) if result else None), {}


def _clip(x: Interval, t: FixedType) -> Interval:
    r = Interval.of_type(t)
    lo, hi = min(max(x.lo, r.lo), r.hi), max(min(x.hi, r.hi), r.lo)
    return Interval(lo, hi, t.fractional)


def _holds(t: FixedType, values: np.ndarray) -> bool:
    m = values * 2.0**t.fractional
    return bool(m.min() >= t.min_mantissa and m.max() <= t.max_mantissa)


def apply_precisions(hls_model: Any, plan: dict[str, dict[str, FixedType]]) -> None:
    """Write the planned types into the ModelGraph (before ``write``/``compile``)."""
    from hls4ml.backends.fpga.fpga_types import APTypeConverter
    from hls4ml.model.types import FixedPrecisionType, RoundingMode, SaturationMode

    def hls_type(t: FixedType) -> Any:  # ap_fixed flavour, as the Vivado/Vitis writers need
        return APTypeConverter().convert(
            FixedPrecisionType(
                width=t.width,
                integer=t.integer,
                signed=t.signed,
                rounding_mode=RoundingMode.from_string(t.rounding.name),
                saturation_mode=SaturationMode.from_string(t.overflow.name),
            )
        )

    by_name = {layer.name: layer for layer in hls_model.get_layers()}
    for layer_name, types in plan.items():
        layer = by_name.get(layer_name)
        if layer is None:
            raise DatrigError(
                f"layer_precision names layer {layer_name!r}, which the converted model does not "
                f"have; its layers: {', '.join(by_name)}"
            )
        for type_name, t in types.items():
            _set_type(layer, type_name, hls_type(t))


def _set_type(layer: Any, type_name: str, precision: Any) -> None:
    key = type_name if type_name.endswith("_t") else f"{type_name}_t"
    if key == "result_t":
        layer.get_output_variable().type.precision = precision
        return
    weight = key.removesuffix("_t")
    if weight in layer.weights:
        var = layer.weights[weight]
        if layer.name.lower() not in var.type.name.lower():
            # hls4ml names some weight types after a shared C++ typedef (a MatMul-derived
            # Dense's bias and BatchNorm's scale/bias are all ``model_default_t``): changing
            # that one would retype every layer using it (seen: BatchNorm scales cut to 2 bits)
            import copy

            shared = var.type.name
            var.type = copy.copy(var.type)  # keeps the backend's type class (definition_cpp)
            var.type.name = f"{layer.name}_{key}"
            config = layer.get_attr("config_cpp")  # the C++ config hls4ml already rendered
            if config:
                layer.set_attr(
                    "config_cpp",
                    config.replace(f"typedef {shared} {key};", f"typedef {var.type.name} {key};"),
                )
        var.update_precision(precision)
        layer.set_attr(key, var.type)
        return
    if key not in layer.types:
        raise DatrigError(
            f"layer {layer.name} has no type {type_name!r}; it has: {', '.join(layer.types)}"
        )
    if layer.name.lower() not in layer.types[key].name.lower():
        # a shared type: give the layer its own (already layer-named types keep their name,
        # which the config C++ baked at conversion refers to, e.g. softmax_0_accum_t)
        layer.types[key].name = f"{layer.name}_{key}"
    layer.types[key].precision = precision
