"""RTL tracers of hls4ml's table activations: sigmoid, tanh and the three softmax variants.

Each table becomes a da4ml lookup (a ROM in the Verilog, ``src/memfiles/*.mem``) addressed by
the *coarsest* symbol the C++ index still depends on, so a ROM has the entries hls4ml's table
has, not one per input value:

* ``int(x * N / R) + N / 2`` clamped to ``[0, N)`` (sigmoid, tanh, legacy softmax) depends on
  x truncated toward zero to log2(N/R) fractional bits, then saturated to the table's span;
* the latency/stable softmax index, the top ceillog2(N) bits of the addressing type's pattern,
  depends on x floored to that many bits.

Every entry is computed by the emulator's own kernel (:mod:`datrig.emulate.activations`) on
the symbol's values, so the ROM holds exactly what the emulator would return; the sums,
maxima and the product with 1/sum are traced as logic with the emulator's casts.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from datrig.emulate import activations
from datrig.emulate.fixed import quantize
from datrig.emulate.kernels import Tensor
from datrig.firmware.trace_cast import UnsupportedLayerError, cast, symbols
from datrig.ir.fixed import FixedType
from datrig.ir.network import LayerIR

# A ROM per lookup: beyond 2**16 entries a table block is no longer a sensible RTL block (and
# tracing it takes minutes); such a layer keeps the analytic estimate, labelled.
MAX_TABLE_ENTRIES = 1 << 16


def _cast_one(v: Any, like: Any, t: FixedType, where: str) -> Any:
    return cast(symbols(like, [v], (1,)), t, where)._vars[0]


def _grid(v: Any, where: str) -> np.ndarray:
    """Every value a symbol can take, lowest first (its da4ml interval on its step)."""
    low, high, step = float(v.low), float(v.high), float(v.step)
    n = round((high - low) / step) + 1
    if n > MAX_TABLE_ENTRIES:
        raise UnsupportedLayerError(
            f"{where}: a lookup on {n:,} input values exceeds the {MAX_TABLE_ENTRIES:,}-entry "
            "ROM limit of the RTL path"
        )
    return low + step * np.arange(n, dtype=np.float64)


def _frac_bits(values: np.ndarray) -> int:
    """Fractional bits that represent every value exactly (values are dyadic)."""
    f = 0
    while not np.array_equal(np.ldexp(values, f), np.round(np.ldexp(values, f))):
        f += 1
        if f > 62:
            raise UnsupportedLayerError("a lookup's input values are not on a binary grid")
    return f


def _value_type(values: np.ndarray) -> FixedType:
    """A signed type holding every value exactly, for kernels that only read the value."""
    f = _frac_bits(values)
    mag = float(np.max(np.abs(values))) if values.size else 0.0
    integer = max(math.ceil(math.log2(mag + 1.0)), 0) + 1
    return FixedType(integer + f, integer, True)


def _lookup(v: Any, fn: Callable[[np.ndarray], np.ndarray], where: str) -> Any:
    """A ROM mapping each value of ``v`` to ``fn(value)`` (exact dyadic floats)."""
    values = _grid(v, where)
    table = np.asarray(fn(values), dtype=np.float64)
    if table.size == 1:
        return v.from_const(float(table[0]), hwconf=v.hwconf)
    f_out = _frac_bits(table)
    if float(np.max(np.abs(np.ldexp(table, f_out)))) >= 2.0**31:
        raise UnsupportedLayerError(f"{where}: a table entry needs more than 31 bits")
    return v.lookup(table)


def _trunc_toward_zero(v: Any, frac: int) -> Any:
    """C ``int()`` semantics at ``frac`` fractional bits: floor for x >= 0, ceil below."""
    k, i, f = (int(a) for a in v.kif)
    if f <= frac:
        return v
    floor = v.quantize(k, i + 1, frac, "WRAP", "TRN")
    if float(v.low) >= 0:
        return floor
    ceil = (v + (2.0**-frac - 2.0**-f)).quantize(k, i + 1, frac, "WRAP", "TRN")
    if float(v.high) < 0:
        return ceil
    return v.msb_mux(ceil, floor)


def _scaled_index_symbol(v: Any, n: int, span: int, offset: int) -> Any:
    """The symbol ``clip(int(v * n / span) + offset, 0, n - 1)`` is a function of."""
    s = math.log2(n / span)
    if s != int(s):
        return v  # not a power of two: the ROM spans v's own values
    s = int(s)
    z = _trunc_toward_zero(v, s)
    lo, hi = -offset * 2.0**-s, (n - 1 - offset) * 2.0**-s
    if float(z.low) >= lo and float(z.high) <= hi:
        return z
    return z.max_of(lo).min_of(hi)  # the clamp: beyond the table every index is its end


def _top_bits_symbol(v: Any, t: FixedType, n: int) -> Any:
    """The symbol the top ceillog2(n) bits of ``t``'s pattern are a function of."""
    n_bits = activations.ceillog2(n)
    frac = t.fractional - (t.width - n_bits)
    k, i = int(t.signed), t.integer - int(t.signed)
    if int(v.kif[2]) <= frac:
        return v
    return v.quantize(k, i, frac, "WRAP", "TRN")


def _require_tables(layer: LayerIR, names: tuple[str, ...]) -> None:
    """A table layer carries its tables (built at export); without them there is no ROM."""
    missing = [n for n in names if n not in layer.tensors or n not in layer.tensor_types]
    if missing:
        raise UnsupportedLayerError(
            f"layer {layer.name} ({layer.kind}) has no {', '.join(missing)} in its IR; "
            "re-export the project"
        )


def _mantissas(values: np.ndarray, frac: int) -> np.ndarray:
    return np.round(np.ldexp(values, frac)).astype(np.int64)


def _unary_table(layer: LayerIR, inputs: list[Any], span: int) -> Any:
    """sigmoid/tanh: ``table[int(x * N / span) + N / 2]`` cast to the result type."""
    _require_tables(layer, ("table",))
    x = inputs[0]
    n = len(layer.tensors["table"])
    kernel = activations.sigmoid if layer.kind == "sigmoid" else activations.tanh
    res_t = layer.result_t

    def entries(values: np.ndarray) -> np.ndarray:
        t = _value_type(values)
        out = kernel(layer, [Tensor(_mantissas(values, t.fractional), t)])
        return np.ldexp(out.astype(np.float64), -res_t.fractional)

    flat = [
        _lookup(_scaled_index_symbol(v, n, span, n // 2), entries, layer.name)
        for v in x._vars.ravel()
    ]
    return cast(symbols(x, flat, x._vars.shape), res_t, layer.name)


def trace_sigmoid(layer: LayerIR, inputs: list[Any], in_types: list[FixedType]) -> Any:
    return _unary_table(layer, inputs, 16)


def trace_tanh(layer: LayerIR, inputs: list[Any], in_types: list[FixedType]) -> Any:
    return _unary_table(layer, inputs, 8)


def _tree_sum(values: list[Any], like: Any, acc_t: FixedType, where: str) -> Any:
    """activations._tree_sum on symbols: the same balanced tree, every sum cast to accum_t."""
    n = len(values)
    if n == 1:
        return values[0]
    if n == 2:
        return _cast_one(values[0] + values[1], like, acc_t, where)
    left = 1 << ((n - 1).bit_length() - 1)
    total = _tree_sum(values[:left], like, acc_t, where) + _tree_sum(
        values[left:], like, acc_t, where
    )
    return _cast_one(total, like, acc_t, where)


def _softmax_row(layer: LayerIR, x: Any, row: list[Any], x_t: FixedType) -> list[Any]:
    """One softmax vector of the latency or stable implementation (activations._softmax_lut)."""
    where = layer.name
    acc_t, inv_inp_t = layer.types["accum_t"], layer.types["inv_inp_t"]
    exp_t, inv_t = layer.tensor_types["exp_table"], layer.tensor_types["inv_table"]
    exp_table, inv_table = layer.tensors["exp_table"], layer.tensors["inv_table"]
    if layer.attrs["implementation"] == "stable":
        norm_t = layer.types["inp_norm_t"]
        x_max = row[0]
        for v in row[1:]:
            x_max = x_max.max_of(v)
        addr = [_cast_one(x_max - v, x, norm_t, where) for v in row]
        addr_t = norm_t
    else:
        addr, addr_t = row, x_t

    def exp_entries(values: np.ndarray) -> np.ndarray:
        idx = activations.top_bits_index(
            _mantissas(values, addr_t.fractional), addr_t, len(exp_table)
        )
        res = quantize(exp_table[idx], exp_t.fractional, acc_t)
        return np.ldexp(res.astype(np.float64), -acc_t.fractional)

    def inv_entries(values: np.ndarray) -> np.ndarray:
        m = _mantissas(values, inv_inp_t.fractional)
        idx = activations.top_bits_index(m, inv_inp_t, len(inv_table))
        return np.ldexp(inv_table[idx].astype(np.float64), -inv_t.fractional)

    exp_res = [
        _lookup(_top_bits_symbol(a, addr_t, len(exp_table)), exp_entries, where) for a in addr
    ]
    total = _tree_sum(exp_res, x, acc_t, where)
    exp_sum = _cast_one(total, x, inv_inp_t, where)
    inv = _lookup(_top_bits_symbol(exp_sum, inv_inp_t, len(inv_table)), inv_entries, where)
    return [shift_add_product(e, inv) for e in exp_res]


def shift_add_product(a: Any, b: Any) -> Any:
    """``a * b`` as a balanced adder tree of partial products ``a * bit_k(b) * 2**k``.

    da4ml prices a variable-by-variable product as a ripple array, one adder level per bit of
    the wider operand (17 levels for softmax's exp x 1/sum); a mux per partial product and a
    balanced tree of the same adders is ceil(log2(bits)) + 1 levels deep, and stays exact.
    """
    if float(b.low) < 0 or float(b.high) == float(b.low):
        return a * b
    _, i, f = (int(v) for v in b.kif)
    terms = []
    for p in range(-f, i):
        bit = (b * 2.0**-p).quantize(0, 1, 0, "WRAP", "TRN")  # floor(b / 2**p) mod 2
        if float(bit.high) > 0:
            # bit - 1/2 is negative exactly when the bit is clear. (A mux on the bit itself
            # can be forwarded by da4ml to the MSB of an earlier, wider symbol: wrong.)
            terms.append((bit - 0.5).msb_mux(0.0, a) * 2.0**p)
    if not terms:
        return a * 0.0
    while len(terms) > 1:
        terms = [terms[k] + terms[k + 1] for k in range(0, len(terms) - 1, 2)] + (
            [terms[-1]] if len(terms) % 2 else []
        )
    return terms[0]


def _softmax_legacy_row(layer: LayerIR, x: Any, row: list[Any]) -> list[Any]:
    """activations._softmax_legacy on symbols: pairwise exp lookups, 1/x lookup."""
    where = layer.name
    table_t = layer.tensor_types["exp_table"]
    exp_table, inv_table = layer.tensors["exp_table"], layer.tensors["inv_table"]
    n_exp, n_inv = len(exp_table), len(inv_table)
    one = float(np.ldexp(float(quantize(np.array([1]), 0, table_t)[0]), -table_t.fractional))

    def exp_entries(values: np.ndarray) -> np.ndarray:
        t = _value_type(values)
        idx = activations.scaled_index(_mantissas(values, t.fractional), t, n_exp, 16, n_exp // 2)
        return np.ldexp(exp_table[idx].astype(np.float64), -table_t.fractional)

    def inv_entries(values: np.ndarray) -> np.ndarray:
        t = _value_type(values)
        idx = activations.scaled_index(_mantissas(values, t.fractional), t, n_inv, 64, 0)
        res = quantize(inv_table[idx], table_t.fractional, layer.result_t)
        return np.ldexp(res.astype(np.float64), -layer.result_t.fractional)

    out = []
    for i, xi in enumerate(row):
        acc = None
        for j, xj in enumerate(row):
            if i == j:
                term = xi.from_const(one, hwconf=xi.hwconf)
            else:
                diff = xj - xi  # data_T - data_T is exact
                addr = _scaled_index_symbol(diff, n_exp, 16, n_exp // 2)
                term = _lookup(addr, exp_entries, where)
            acc = term if acc is None else acc + term
            acc = _cast_one(acc, x, table_t, where)
        out.append(_lookup(_scaled_index_symbol(acc, n_inv, 64, 0), inv_entries, where))
    return out


def trace_softmax(layer: LayerIR, inputs: list[Any], in_types: list[FixedType]) -> Any:
    """Softmax over the last axis, each implementation as the emulator computes it."""
    _require_tables(layer, ("exp_table", "inv_table"))
    x = inputs[0]
    impl = layer.attrs.get("implementation")
    if impl not in ("latency", "stable", "legacy"):
        raise UnsupportedLayerError(f"layer {layer.name}: softmax implementation {impl!r}")
    rows = x._vars.reshape(-1, x._vars.shape[-1])
    flat: list[Any] = []
    for row in rows:
        if impl == "legacy":
            flat += _softmax_legacy_row(layer, x, list(row))
        else:
            flat += _softmax_row(layer, x, list(row), in_types[0])
    out = symbols(x, flat, x._vars.shape)
    return out if impl == "legacy" else cast(out, layer.result_t, layer.name)
