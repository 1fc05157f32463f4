"""ap_fixed rounding and overflow on mantissas held as float64 integers (the fast path).

float64 holds every integer below 2**53 exactly, and scaling by a power of two, floor, ceil,
trunc and rint are exact on such values, so these operations give the same mantissas as the
int64 reference in ``datrig.emulate.fixed`` without any int64 <-> float64 conversion. Callers
(``datrig.emulate.fast``) prove with interval analysis that every value stays below 2**52 and
fall back to the int64 kernels otherwise. ``overflow`` works in place; ``round_shift``
returns a new array.
"""

from __future__ import annotations

import numpy as np

from datrig.ir.fixed import FixedType, Overflow, Rounding

# |values| below this are exact float64 integers with one bit to spare for +-0.5 offsets.
FLOAT_SAFE_BITS = 51


def round_shift(x: np.ndarray, shift: int, rounding: Rounding) -> np.ndarray:
    """Drop ``shift`` > 0 fractional bits of integer-valued ``x``, ap_fixed style (new array)."""
    v = x * 2.0**-shift  # exact: a power of two
    if rounding is Rounding.TRN:
        return np.floor(v, out=v)
    if rounding is Rounding.RND_CONV:
        return np.rint(v, out=v)  # IEEE round-half-to-even, exact
    if rounding is Rounding.RND:
        v += 0.5  # exact: v has at most `shift` fractional bits and |v| < 2**51
        return np.floor(v, out=v)
    if rounding is Rounding.TRN_ZERO:
        return np.trunc(v, out=v)
    if rounding is Rounding.RND_MIN_INF:
        v -= 0.5
        return np.ceil(v, out=v)
    if rounding is Rounding.RND_INF:
        v += np.copysign(0.5, v)
        return np.trunc(v, out=v)
    if rounding is Rounding.RND_ZERO:
        return np.where(v >= 0, np.ceil(v - 0.5), np.floor(v + 0.5))
    raise AssertionError(rounding)  # pragma: no cover - Enum is closed


def overflow(v: np.ndarray, t: FixedType) -> np.ndarray:
    """Bring integer-valued ``v`` (at ``t``'s fractional bits) into ``t``'s range, in place."""
    lo, hi = float(t.min_mantissa), float(t.max_mantissa)
    mode = t.overflow
    if mode is Overflow.SAT:
        return np.clip(v, lo, hi, out=v)
    if mode is Overflow.SAT_SYM:
        return np.clip(v, -hi if t.signed else 0.0, hi, out=v)
    if mode is Overflow.SAT_ZERO:
        v[(v < lo) | (v > hi)] = 0.0
        return v
    # WRAP: v - span * floor((v - lo) / span), every step exact for integers below 2**52.
    span = float(1 << t.width)
    k = np.subtract(v, lo)
    k *= 1.0 / span
    np.floor(k, out=k)
    k *= span
    v -= k
    return v


def from_float(x: np.ndarray, t: FixedType) -> np.ndarray:
    """Float inputs -> float64 mantissas of ``t``, as ``ap_fixed(double)`` (refuses no input:
    the caller checks finiteness). Arbitrary doubles are not integers, so round-half modes use
    the exact remainder instead of +-0.5 offsets."""
    scaled = np.ldexp(np.asarray(x, dtype=np.float64), t.fractional)
    r = t.rounding
    if r is Rounding.TRN:
        value = np.floor(scaled)
    elif r is Rounding.RND_CONV:
        value = np.rint(scaled)
    elif r is Rounding.TRN_ZERO:
        value = np.trunc(scaled)
    else:
        value = np.floor(scaled)
        rem = scaled - value  # exact, in [0, 1)
        if r is Rounding.RND:
            up = rem >= 0.5
        elif r is Rounding.RND_MIN_INF:
            up = rem > 0.5
        elif r is Rounding.RND_INF:
            up = (rem > 0.5) | ((rem == 0.5) & (scaled > 0))
        else:  # RND_ZERO
            up = (rem > 0.5) | ((rem == 0.5) & (scaled < 0))
        value += up
    lo, hi = float(t.min_mantissa), float(t.max_mantissa)
    if value.size and (value.min() < lo or value.max() > hi):
        if t.overflow is Overflow.WRAP:
            # Reduce huge magnitudes exactly first (fmod of integral doubles is exact).
            np.fmod(value, float(1 << t.width), out=value)
        value = overflow(value, t)
    return value + 0.0  # -0.0 -> +0.0, so outputs are byte-identical to the int64 path
