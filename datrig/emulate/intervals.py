"""Interval analysis on mantissas: which roundings and overflows can a layer actually hit?

Bounds are computed once per network from the types and the constant weights (never from
the data), so they hold for every possible input. The fast path uses them to skip overflow
handling that provably cannot trigger and to prove float64/float32 arithmetic exact.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from datrig.ir.fixed import FixedType, Overflow, Rounding


@dataclass(frozen=True)
class Interval:
    """All mantissas of a tensor lie in ``[lo, hi]`` (Python ints, at a known fractional bit
    count that the caller tracks)."""

    lo: int
    hi: int

    @classmethod
    def of_type(cls, t: FixedType) -> Interval:
        return cls(t.min_mantissa, t.max_mantissa)

    @property
    def max_abs(self) -> int:
        return max(abs(self.lo), abs(self.hi))

    def bits(self) -> int:
        """Bits (incl. sign) needed to hold every value."""
        return self.max_abs.bit_length() + 1


def _round_int(m: int, shift: int, rounding: Rounding) -> int:
    """Round a single mantissa right by ``shift`` bits (monotone in ``m`` for every mode)."""
    floor = m >> shift
    rem = m - (floor << shift)
    half = 1 << (shift - 1)
    up = {
        Rounding.TRN: False,
        Rounding.TRN_ZERO: rem != 0 and m < 0,
        Rounding.RND: rem >= half,
        Rounding.RND_ZERO: rem > half or (rem == half and m < 0),
        Rounding.RND_MIN_INF: rem > half,
        Rounding.RND_INF: rem > half or (rem == half and m >= 0),
        Rounding.RND_CONV: rem > half or (rem == half and floor & 1 == 1),
    }[rounding]
    return floor + int(up)


@dataclass(frozen=True)
class CastPlan:
    """How a cast from ``frac_in`` fractional bits to type ``to`` behaves on an interval."""

    shift: int  # > 0: drop bits (rounding), < 0: exact widening
    needs_overflow: bool  # False: the rounded interval provably fits ``to``
    rounded: Interval  # before overflow, at ``to``'s fractional bits
    result: Interval  # after overflow


def plan_cast(x: Interval, frac_in: int, to: FixedType) -> CastPlan:
    shift = frac_in - to.fractional
    if shift > 0:
        rounded = Interval(
            _round_int(x.lo, shift, to.rounding), _round_int(x.hi, shift, to.rounding)
        )
    else:
        rounded = Interval(x.lo << -shift, x.hi << -shift)
    fits = to.min_mantissa <= rounded.lo and rounded.hi <= to.max_mantissa
    if fits:
        result = rounded
    elif to.overflow is Overflow.SAT:
        clip = lambda m: min(max(m, to.min_mantissa), to.max_mantissa)  # noqa: E731
        result = Interval(clip(rounded.lo), clip(rounded.hi))
    else:
        result = Interval.of_type(to)
    return CastPlan(shift, not fits, rounded, result)


def dense_sum(x: Interval, weight: np.ndarray, bias: np.ndarray) -> tuple[Interval, int]:
    """Bounds of ``bias_j + sum_i x_i * w_ij`` over all columns j (bias at product scale), and
    the largest magnitude any partial sum or single term can reach (for saturation/exactness)."""
    w = weight.astype(object)  # Python ints: no overflow whatever the widths
    b = bias.astype(object)
    lo_terms = np.minimum(w * x.lo, w * x.hi)
    hi_terms = np.maximum(w * x.lo, w * x.hi)
    col_lo = lo_terms.sum(axis=0) + b
    col_hi = hi_terms.sum(axis=0) + b
    partial = np.abs(w).sum(axis=0) * x.max_abs + np.abs(b)
    return Interval(int(min(col_lo)), int(max(col_hi))), int(max(partial))
