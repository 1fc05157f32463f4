"""Lookup tables of hls4ml's activations, filled exactly as the C-simulation fills them.

hls4ml 1.3.0 (``nnet_activation.h``) computes each entry in single-precision C++
(``std::exp(float)``, ``tanh(float)``, float divisions) and casts the float to the table type.
numpy's own float32 ``exp``/``tanh`` differ from the C library in the last bit for ~40 % of
the entries (measured here), which moves table entries across rounding boundaries, so the C
math library itself is called through ctypes. Tables are built once at export and stored in
the emulator IR as integer mantissas; the emulator never recomputes them.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from collections.abc import Callable

import numpy as np

from datrig.emulate.fixed import from_float
from datrig.errors import DatrigError
from datrig.ir.fixed import FixedType, Overflow

F32 = np.float32


@functools.cache
def _libm_f(name: str) -> Callable[[float], float]:
    path = ctypes.util.find_library("m")
    if path is None:
        raise DatrigError(
            "the C math library (libm) was not found; it is needed to build hls4ml's "
            "activation tables exactly as the C-simulation does"
        )
    fn = getattr(ctypes.CDLL(path), name)
    fn.restype, fn.argtypes = ctypes.c_float, [ctypes.c_float]
    return fn


def _map_f32(name: str, x: np.ndarray) -> np.ndarray:
    fn = _libm_f(name)
    return np.array([fn(float(v)) for v in np.asarray(x, dtype=F32).ravel()], dtype=F32)


def cast_double(x: np.ndarray, t: FixedType) -> np.ndarray:
    """``t(double)`` incl. infinities, which ap_fixed treats as 2**1024: 0 when wrapping, the
    extreme value when saturating (read from ap_fixed_base(double))."""
    x = np.asarray(x, dtype=np.float64)
    inf = np.isinf(x)
    out = from_float(np.where(inf, 0.0, x), t)
    if inf.any():
        if t.overflow is Overflow.WRAP or t.overflow is Overflow.SAT_ZERO:
            big = np.zeros(x.shape, dtype=np.int64)
        else:
            low = -t.max_mantissa if t.overflow is Overflow.SAT_SYM and t.signed else t.min_mantissa
            big = np.where(x > 0, t.max_mantissa, low)
        out = np.where(inf, big, out)
    return out


def _symmetric_inputs(n_table: int, half_range: float) -> np.ndarray:
    """``float in_val = 2 * R * (ii - float(N) / 2.0) / float(N)`` (double math, float result)."""
    ii = np.arange(n_table, dtype=np.float64)
    return (2 * half_range * (ii - float(F32(n_table)) / 2.0) / float(F32(n_table))).astype(F32)


def sigmoid_table(n_table: int, table_t: FixedType) -> np.ndarray:
    """init_sigmoid_table: 1.0 / (1 + std::exp(-x)) with x in [-8, 8)."""
    x = _symmetric_inputs(n_table, 8.0)
    denom = F32(1) + _map_f32("expf", -x)  # float + float
    return cast_double((1.0 / denom.astype(np.float64)).astype(F32), table_t)


def tanh_table(n_table: int, table_t: FixedType) -> np.ndarray:
    """init_tanh_table: tanh(float) with x in [-4, 4) (resolves to tanhf; checked with g++)."""
    return cast_double(_map_f32("tanhf", _symmetric_inputs(n_table, 4.0)), table_t)


def top_bits_value(n_table: int, addr_t: FixedType) -> np.ndarray:
    """softmax_real_val_from_idx: the value of ``addr_t`` whose top log2(N) bits are i."""
    n_bits = max(int(n_table - 1).bit_length(), 0)
    if n_bits > addr_t.width:
        raise DatrigError(
            f"softmax table of {n_table} entries needs {n_bits} address bits, but the "
            f"addressing type {addr_t.to_hls()} has only {addr_t.width}; shrink the table"
        )
    raw = np.arange(n_table, dtype=np.int64) << (addr_t.width - n_bits)
    if addr_t.signed:
        raw = np.where(raw >= 1 << (addr_t.width - 1), raw - (1 << addr_t.width), raw)
    return np.ldexp(raw.astype(np.float64), -addr_t.fractional).astype(F32)  # (float)x


def exp_table(
    n_table: int, addr_t: FixedType, table_t: FixedType, exp_scale: float, negative: bool
) -> np.ndarray:
    """init_exp_table: exp of the table's address values (negated for the stable softmax)."""
    x = top_bits_value(n_table, addr_t) * F32(exp_scale)
    if negative:
        x = -x
    return cast_double(_map_f32("expf", x), table_t)


def invert_table(n_table: int, addr_t: FixedType, table_t: FixedType) -> np.ndarray:
    """init_invert_table: ``1 / x`` in float (x = 0 gives inf, cast as ap_fixed does)."""
    x = top_bits_value(n_table, addr_t)
    with np.errstate(divide="ignore"):
        inv = F32(1) / x
    return cast_double(inv, table_t)


def legacy_exp_table(n_table: int, table_t: FixedType) -> np.ndarray:
    """init_exp_table_legacy: exp(x) with x in [-8, 8) as for the sigmoid table."""
    return cast_double(_map_f32("expf", _symmetric_inputs(n_table, 8.0)), table_t)


def legacy_invert_table(n_table: int, table_t: FixedType) -> np.ndarray:
    """init_invert_table_legacy: 1.0 / x in double for x = 64 i / N (0 at i = 0)."""
    x = (64.0 * np.arange(n_table, dtype=np.float64) / float(F32(n_table))).astype(F32)
    with np.errstate(divide="ignore"):
        inv = np.where(x > 0.0, 1.0 / x.astype(np.float64), 0.0)
    return cast_double(inv, table_t)
