"""Vectorised ap_fixed arithmetic on integer mantissas (value = mantissa * 2**-frac_bits).

Every conversion names its rounding and overflow mode through the target ``FixedType``; the
semantics are those of the Vivado ``ap_fixed`` headers that hls4ml's C-simulation compiles
against (checked bit for bit by compiling those headers in ``tests/emulate/test_fixed.py``).
Mantissas are int64; widths that could overflow int64 are refused with a clear error.
"""

from __future__ import annotations

import numpy as np

from datrig.errors import DatrigError
from datrig.ir.fixed import FixedType, Overflow, Rounding

# int64 holds 63 magnitude bits; keep one spare so sums of two values cannot overflow.
MAX_BITS = 62
# float64 represents integers exactly up to 2**53; wider from_float targets are refused.
MAX_FLOAT_WIDTH = 52


def check_width(bits: int, what: str) -> None:
    """Refuse intermediate results that int64 mantissas cannot hold exactly."""
    if bits > MAX_BITS:
        raise DatrigError(
            f"{what} needs {bits} bits, more than the emulator's int64 limit of {MAX_BITS}; "
            "narrow the accum/result precisions in the firmware config"
        )


def _round_shift(mantissa: np.ndarray, shift: int, rounding: Rounding) -> np.ndarray:
    """Drop ``shift`` > 0 fractional bits from ``mantissa`` with ap_fixed's rounding mode."""
    floor = mantissa >> shift
    if rounding is Rounding.TRN:
        return floor
    rem = mantissa - (floor << shift)  # in [0, 2**shift)
    half = np.int64(1) << (shift - 1)
    negative = mantissa < 0
    if rounding is Rounding.TRN_ZERO:
        up = (rem != 0) & negative
    elif rounding is Rounding.RND:
        up = rem >= half
    elif rounding is Rounding.RND_ZERO:
        up = (rem > half) | ((rem == half) & negative)
    elif rounding is Rounding.RND_MIN_INF:
        up = rem > half
    elif rounding is Rounding.RND_INF:
        up = (rem > half) | ((rem == half) & ~negative)
    elif rounding is Rounding.RND_CONV:
        up = (rem > half) | ((rem == half) & ((floor & 1) == 1))
    else:  # pragma: no cover - Enum is closed
        raise DatrigError(f"unsupported rounding mode {rounding}")
    return floor + up


def apply_overflow(mantissa: np.ndarray, to: FixedType) -> np.ndarray:
    """Bring an exact mantissa (already at ``to``'s fractional bits) into ``to``'s range."""
    lo, hi = to.min_mantissa, to.max_mantissa
    mode = to.overflow
    if mantissa.size and lo <= mantissa.min() and mantissa.max() <= hi:
        return mantissa  # nothing out of range: two reductions beat a masked rewrite
    if mode is Overflow.WRAP:
        offset = -lo  # two's complement wrap as one add/mask/subtract pass
        return ((mantissa + offset) & ((1 << to.width) - 1)) - offset
    if mode is Overflow.SAT:
        return np.clip(mantissa, lo, hi)
    if mode is Overflow.SAT_ZERO:
        return np.where((mantissa < lo) | (mantissa > hi), 0, mantissa).astype(np.int64)
    if mode is Overflow.SAT_SYM:
        return np.clip(mantissa, -hi if to.signed else 0, hi)
    raise DatrigError(f"unsupported overflow mode {mode}")  # pragma: no cover


def quantize(mantissa: np.ndarray, frac_bits: int, to: FixedType) -> np.ndarray:
    """Cast exact values ``mantissa * 2**-frac_bits`` to type ``to`` (its rounding + overflow).

    Returns int64 mantissas at ``to.fractional`` fractional bits.
    """
    mantissa = np.asarray(mantissa, dtype=np.int64)
    check_width(to.width, f"type {to.to_hls()}")
    shift = frac_bits - to.fractional
    if shift > 0:
        if shift >= MAX_BITS:
            raise DatrigError(
                f"casting to {to.to_hls()} drops {shift} fractional bits at once, more than "
                f"the emulator's limit of {MAX_BITS - 1}; check the layer precisions"
            )
        rounded = _round_shift(mantissa, shift, to.rounding)
    elif shift < 0:
        bits = _bit_length(mantissa) - shift
        if bits > MAX_BITS:
            if to.overflow is not Overflow.WRAP:
                # Saturating modes only need the sign and whether the value is out of range.
                big = np.abs(mantissa) >= (np.int64(1) << max(0, MAX_BITS + shift))
                scaled = np.where(big, np.sign(mantissa) * (np.int64(1) << MAX_BITS), mantissa)
                small = np.where(big, 0, mantissa) << -shift
                return apply_overflow(np.where(big, scaled, small), to)
            # Wrapping keeps only the low ``width`` bits, which the shift cannot disturb.
            keep = max(0, to.width + shift)
            mantissa = mantissa & ((np.int64(1) << keep) - 1)
        rounded = mantissa << -shift
    else:
        rounded = mantissa
    return apply_overflow(rounded, to)


def _bit_length(mantissa: np.ndarray) -> int:
    if mantissa.size == 0:
        return 0
    return int(max(abs(int(mantissa.max())), abs(int(mantissa.min())))).bit_length() + 1


def from_float(x: np.ndarray, to: FixedType) -> np.ndarray:
    """Convert floats exactly to ``to`` as ``ap_fixed(double)`` does (float32 widens exactly).

    Scaling by a power of two is exact, so the float's floor and remainder decide rounding
    without any approximation. Non-finite input is refused: ap_fixed has no NaN or inf.
    """
    x = np.asarray(x, dtype=np.float64)
    if not np.all(np.isfinite(x)):
        n_bad = int(np.count_nonzero(~np.isfinite(x)))
        raise DatrigError(f"{n_bad} input values are NaN or infinite; clean the input first")
    if to.width > MAX_FLOAT_WIDTH:
        raise DatrigError(
            f"from_float supports types up to {MAX_FLOAT_WIDTH} bits, got {to.to_hls()}"
        )
    scaled = np.ldexp(x, to.fractional)
    floor = np.floor(scaled)
    rem = scaled - floor  # exact, in [0, 1)
    negative = x < 0
    r = to.rounding
    if r is Rounding.TRN:
        up = np.zeros(x.shape, dtype=bool)
    elif r is Rounding.TRN_ZERO:
        up = (rem != 0) & negative
    elif r is Rounding.RND:
        up = rem >= 0.5
    elif r is Rounding.RND_ZERO:
        up = (rem > 0.5) | ((rem == 0.5) & negative)
    elif r is Rounding.RND_MIN_INF:
        up = rem > 0.5
    elif r is Rounding.RND_INF:
        up = (rem > 0.5) | ((rem == 0.5) & ~negative)
    else:  # RND_CONV
        up = (rem > 0.5) | ((rem == 0.5) & (np.fmod(floor, 2) != 0))
    value = floor + up
    # Reduce out-of-range magnitudes before the int64 cast, keeping what overflow needs.
    span = float(1 << to.width)
    if to.overflow is Overflow.WRAP:
        value = np.mod(value, span)  # exact: fmod of integral floats, plus < 2**53
    else:
        limit = float(1 << (to.width + 1))
        value = np.clip(value, -limit, limit)
    return apply_overflow(value.astype(np.int64), to)


def to_float(mantissa: np.ndarray, t: FixedType) -> np.ndarray:
    """Exact float64 value of mantissas of type ``t`` (exact while width <= 53)."""
    return np.ldexp(np.asarray(mantissa, dtype=np.float64), -t.fractional)
