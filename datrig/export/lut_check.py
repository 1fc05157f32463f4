"""QONNX executor vs C-simulation through lookup-table activations (softmax, sigmoid, tanh).

hls4ml computes softmax, sigmoid and tanh with tables; the QONNX executor in float. A single
output tolerance picked by hand (hls4ml's own tests use ``atol=1e-2, rtol=1``) says nothing,
so the check is split in two:

* **Exact**: the tensor feeding the final LUT activation (e.g. the last Dense's output, whose
  type datrig derives exactly like every other layer) must equal the QONNX tensor bit for bit
  (C-sim side read with ``hls_model.trace``, QONNX side from the full execution context).
  Graphs without an input quantizer get their inputs snapped to the firmware input type first,
  since the firmware cannot receive anything else.
* **Approximated**: the LUT output itself, within a bound derived from the tables the
  C-simulation uses (their size, addressing grid, entry types, read from the emulator IR):
  sigmoid/tanh: the worst error of any table entry over the input interval it serves, plus the
  result cast; softmax (``stable``): the exp grid step ``s`` and the ``1/sum`` grid step
  ``s_inv`` of ``inv_inp_t`` give relative errors ``e^s - 1`` and ``s_inv / sum`` (``sum >= 1``
  because the largest term is ``exp(0)``), plus every table/cast rounding. For softmax
  classifiers the argmax agreement with the float softmax is recorded as well.

A LUT activation inside the network cannot be checked this way (its error propagates through
later layers with no derived bound), so it is refused by name.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from datrig.errors import DatrigError
from datrig.ir.fixed import FixedType, Overflow
from datrig.ir.network import LayerIR, NetworkIR
from datrig.project.config import format_precision

LUT_KINDS = ("softmax", "sigmoid", "tanh")
# Half-range R of hls4ml's symmetric sigmoid/tanh tables: entry k serves x near 2R(k-N/2)/N.
SYMMETRIC_SPAN = {"sigmoid": 16.0, "tanh": 8.0}
FUNCTIONS = {
    "sigmoid": (lambda x: 1.0 / (1.0 + np.exp(-x)), 0.0, 1.0),
    "tanh": (np.tanh, -1.0, 1.0),
}


@dataclass(frozen=True)
class LutBound:
    """Worst-case |C-sim - float| of one LUT activation output, and how it was derived."""

    layer: str
    kind: str
    atol: float
    basis: str


def final_lut_layer(ir: NetworkIR) -> LayerIR | None:
    """The output LUT activation, None without one; DatrigError if a LUT sits mid-network."""
    for k, layer in enumerate(ir.layers):
        if layer.kind in LUT_KINDS and k != len(ir.layers) - 1:
            raise DatrigError(
                f"layer {layer.name} ({layer.kind}) is a lookup-table activation inside the "
                "network: its table error propagates through later layers, so the project "
                "cannot be verified against the QONNX model; use it only as the output layer"
            )
    last = ir.layers[-1]
    return last if last.kind in LUT_KINDS else None


def lut_bound(layer: LayerIR, input_t: FixedType) -> LutBound:
    """Derive the output tolerance of ``layer`` (see module docstring) from its tables."""
    if layer.kind in SYMMETRIC_SPAN:
        return _symmetric_bound(layer)
    if layer.kind == "softmax":
        return _softmax_bound(layer, input_t)
    raise DatrigError(f"layer {layer.name}: no error bound for activation {layer.kind!r}")


def argmax_agreement(reference: np.ndarray, firmware: np.ndarray) -> float:
    """Fraction of events whose firmware argmax equals the float argmax (ties: first index)."""
    a = np.asarray(reference).reshape(len(reference), -1)
    b = np.asarray(firmware).reshape(len(firmware), -1)
    if len(a) == 0:
        return 1.0
    return float(np.mean(np.argmax(a, axis=1) == np.argmax(b, axis=1)))


def _cast_error(from_frac: int, to: FixedType) -> float:
    """Worst rounding error of casting a value with ``from_frac`` fractional bits to ``to``."""
    return to.lsb if to.fractional < from_frac else 0.0


def _symmetric_bound(layer: LayerIR) -> LutBound:
    """Entry k answers for x in its truncation interval; f is monotone, so the entry's worst
    error is at an interval end (the infinite ends take the function's limits)."""
    f, f_lo, f_hi = FUNCTIONS[layer.kind]
    table, table_t = layer.tensors["table"], layer.tensor_types["table"]
    n = len(table)
    step = SYMMETRIC_SPAN[layer.kind] / n
    k = np.arange(n)
    x_k = step * (k - n // 2)
    lo = np.where(k > n // 2, x_k, np.where(k == n // 2, -step, x_k - step))
    hi = np.where(k < n // 2, x_k, x_k + step)
    f_at_lo = np.where(k == 0, f_lo, f(lo))
    f_at_hi = np.where(k == n - 1, f_hi, f(hi))
    values = table.astype(np.float64) * table_t.lsb
    entry = float(np.max(np.maximum(np.abs(values - f_at_lo), np.abs(values - f_at_hi))))
    res = _cast_error(table_t.fractional, layer.result_t)
    atol = entry + res
    basis = (
        f"{layer.kind} table of {n} entries ({format_precision(table_t)}), grid {step:g}: "
        f"worst entry error {entry:.3g} over its input interval + result cast {res:g}"
    )
    return LutBound(layer.name, layer.kind, atol, basis)


def _softmax_bound(layer: LayerIR, input_t: FixedType) -> LutBound:
    impl = layer.attrs.get("implementation")
    if impl != "stable":
        raise DatrigError(
            f"layer {layer.name}: no error bound is derived for softmax implementation {impl!r} "
            "(its exp table is not normalised); use hls4ml's default 'stable' implementation"
        )
    from datrig.emulate.lut import top_bits_value

    n_out = int(np.prod(layer.shape))
    norm_t = layer.types["inp_norm_t"]
    acc_t = layer.types["accum_t"]
    inv_inp_t = layer.types["inv_inp_t"]
    exp_tab, exp_t = layer.tensors["exp_table"], layer.tensor_types["exp_table"]
    inv_tab, inv_t = layer.tensors["inv_table"], layer.tensor_types["inv_table"]

    # d = max - x >= 0 in inp_norm_t; the exp table is addressed by its top bits (grid s).
    d_max = (input_t.max_mantissa - input_t.min_mantissa) * input_t.lsb
    norm_max = norm_t.max_mantissa * norm_t.lsb
    if d_max > norm_max and norm_t.overflow is Overflow.WRAP:
        raise DatrigError(
            f"layer {layer.name}: max(x) - x reaches {d_max:g}, beyond inp_norm_t "
            f"{format_precision(norm_t)} which wraps; widen inp_norm_t's integer bits"
        )
    d_k = top_bits_value(len(exp_tab), norm_t).astype(np.float64)
    s = float(d_k[1] - d_k[0])
    norm_rnd = _cast_error(input_t.fractional, norm_t)
    r_hi = math.expm1(s + norm_rnd)  # relative error of exp(-d_grid) vs exp(-d), upwards
    r_lo = -math.expm1(-norm_rnd)  # ... downwards (only from rounding d)
    eta_table = float(np.max(np.abs(exp_tab * exp_t.lsb - np.exp(-d_k))))
    sat = math.exp(-(norm_max - s)) if d_max > norm_max else 0.0
    eta = eta_table + sat + _cast_error(exp_t.fractional, acc_t)
    eta_sum = n_out * eta + _cast_error(acc_t.fractional, inv_inp_t)

    # 1/sum is looked up by the top bits of inv_inp_t (grid s_inv); sum >= 1 since exp(0) = 1.
    v_k = top_bits_value(len(inv_tab), inv_inp_t).astype(np.float64)
    s_inv = float(v_k[1] - v_k[0])
    c = r_lo + eta_sum + s_inv
    sum_max = n_out * (1 + r_hi) + eta_sum
    if c >= 1 or sum_max > inv_inp_t.max_mantissa * inv_inp_t.lsb:
        raise DatrigError(
            f"layer {layer.name}: softmax sum grid {s_inv:g} of inv_inp_t "
            f"{format_precision(inv_inp_t)} "
            "is too coarse (or too narrow) for an error bound; give inv_inp_t more fractional bits"
        )
    reach = v_k >= 1 - c
    with np.errstate(divide="ignore"):
        eta_inv = float(np.max(np.abs(inv_tab[reach] * inv_t.lsb - 1.0 / v_k[reach])))
    res = _cast_error(acc_t.fractional + inv_t.fractional, layer.result_t)
    e_max = 1 + r_hi + eta
    upper = e_max / (1 - c) - 1 + e_max * eta_inv + res
    lower = (r_hi + r_lo + eta_sum + eta) / (1 + r_hi + eta_sum) + e_max * eta_inv + res
    atol = max(upper, lower)
    basis = (
        f"stable softmax over {n_out}: exp table {len(exp_tab)} x {format_precision(exp_t)} on a "
        f"{s:g} grid (relative {r_hi:.3g}, entries {eta_table:.2g}); 1/sum table {len(inv_tab)} "
        f"x {format_precision(inv_t)} addressed on a {s_inv:g} grid of "
        f"{format_precision(inv_inp_t)} "
        f"(relative up to {s_inv:g}/sum, entries {eta_inv:.2g}); result cast {res:g}"
    )
    return LutBound(layer.name, "softmax", atol, basis)
