"""Casts of da4ml symbols with ap_fixed semantics: the one primitive every RTL tracer uses.

Each tracer replays the emulator's arithmetic on da4ml's symbolic fixed-point variables; a
cast here is exactly the emulator's ``quantize`` to a :class:`FixedType` (rounding then
overflow), so traced logic stays bit-exact with ``datrig.emulate``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from datrig.errors import DatrigError
from datrig.ir.fixed import FixedType, Overflow, Rounding

_ROUNDING = {Rounding.TRN: "TRN", Rounding.RND: "RND"}
_OVERFLOW = {Overflow.WRAP: "WRAP", Overflow.SAT: "SAT", Overflow.SAT_SYM: "SAT_SYM"}


class UnsupportedLayerError(DatrigError):
    """A layer (or rounding/overflow mode) the da4ml tracer cannot reproduce bit-exactly."""


def symbols(like: Any, flat: Any, shape: tuple[int, ...] | None = None) -> Any:
    """da4ml symbols ``flat`` (one per element, row-major) as an array shaped like ``like``
    (or ``shape``), with ``like``'s solver options and hardware config."""
    from da4ml.trace import FixedVariableArray

    data = np.empty(len(flat), dtype=object)
    data[:] = list(flat)
    shape = like._vars.shape if shape is None else shape
    return FixedVariableArray(data.reshape(shape), like.solver_options, hwconf=like.hwconf)


def kif(t: FixedType) -> tuple[int, int, int]:
    """da4ml's (keep_negative, integer bits without sign, fractional bits)."""
    return int(t.signed), t.integer - int(t.signed), t.fractional


def _round_conv(v: Any, f: int) -> Any:
    """Prepare one symbol for a truncation to ``f`` fractional bits that rounds half to even.

    With ``x = q*L + r`` (L the target LSB, u the source LSB) and ``b = q mod 2``,
    ``floor((x + L/2 - u + b*u) / L)`` is round-half-to-even of ``x / L``.
    """
    src_f = int(v.kif[2])
    if src_f <= f:
        return v
    lsb_bit = v.quantize(0, 1 - f, f, "WRAP", "TRN")  # b * 2**-f
    return v + (2.0 ** (-f - 1) - 2.0**-src_f) + lsb_bit * 2.0 ** (f - src_f)


def cast(x: Any, t: FixedType, where: str) -> Any:
    """Cast symbols to ``t`` with its rounding and overflow (ap_fixed semantics)."""
    if t.overflow not in _OVERFLOW or t.rounding not in (*_ROUNDING, Rounding.RND_CONV):
        raise UnsupportedLayerError(
            f"{where}: da4ml cannot express {t.to_hls()} (supports rounding TRN/RND/RND_CONV "
            "and overflow WRAP/SAT/SAT_SYM)"
        )
    k, i, f = kif(t)
    rounding = "TRN"
    if t.rounding is Rounding.RND_CONV:
        x = symbols(x, [_round_conv(v, f) for v in x._vars.ravel()])
    else:
        rounding = _ROUNDING[t.rounding]
    return x.quantize(k, i, f, _OVERFLOW[t.overflow], rounding)
