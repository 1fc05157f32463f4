"""Fixed-point types of the IR: width, integer bits, sign, and explicit rounding and overflow.

The modes are always spelled out (``to_hls`` never implies a default), so every cast in the
emulator, the RTL tracer and the generated C++ names the same arithmetic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import Any


class Rounding(str, Enum):
    """ap_fixed quantization modes (what happens to bits below the LSB)."""

    TRN = "AP_TRN"  # floor (toward -inf); the ap_fixed default
    TRN_ZERO = "AP_TRN_ZERO"  # toward zero
    RND = "AP_RND"  # round half toward +inf
    RND_ZERO = "AP_RND_ZERO"  # round half toward zero
    RND_MIN_INF = "AP_RND_MIN_INF"  # round half toward -inf
    RND_INF = "AP_RND_INF"  # round half away from zero
    RND_CONV = "AP_RND_CONV"  # round half to even (= numpy/torch/QONNX "ROUND")


class Overflow(str, Enum):
    """ap_fixed overflow modes (what happens to values outside the range)."""

    WRAP = "AP_WRAP"  # two's-complement wrap; the ap_fixed default
    SAT = "AP_SAT"  # clamp to [min, max]
    SAT_ZERO = "AP_SAT_ZERO"  # out-of-range -> 0
    SAT_SYM = "AP_SAT_SYM"  # clamp to [-max, max] (signed)


_HLS_TYPE = re.compile(
    r"^\s*(?P<kind>ap_fixed|ap_ufixed|ap_int|ap_uint|fixed|ufixed|int|uint)\s*"
    r"<\s*(?P<args>[^>]*)>\s*$"
)


@dataclass(frozen=True)
class FixedType:
    """A fixed-point type: ``width`` bits, ``integer`` of them left of the binary point.

    ``integer`` counts the sign bit for signed types (ap_fixed convention) and may be negative
    or exceed ``width``.
    """

    width: int
    integer: int
    signed: bool = True
    rounding: Rounding = Rounding.TRN
    overflow: Overflow = Overflow.WRAP

    @property
    def fractional(self) -> int:
        return self.width - self.integer

    @property
    def min_mantissa(self) -> int:
        return -(1 << (self.width - 1)) if self.signed else 0

    @property
    def max_mantissa(self) -> int:
        return (1 << (self.width - 1)) - 1 if self.signed else (1 << self.width) - 1

    @property
    def lsb(self) -> float:
        return 2.0**-self.fractional

    def to_hls(self) -> str:
        """The C++ type, with rounding/overflow always spelled out (never implied)."""
        base = "ap_fixed" if self.signed else "ap_ufixed"
        return f"{base}<{self.width},{self.integer},{self.rounding.value},{self.overflow.value}>"

    @classmethod
    def parse(cls, text: str) -> FixedType:
        """Parse ``ap_fixed<W,I[,Q[,O]]>``, ``fixed<...>``, ``ap_int<W>`` and unsigned forms."""
        match = _HLS_TYPE.match(text)
        if not match:
            raise ValueError(f"not a fixed-point type: {text!r}")
        kind = match["kind"]
        args = [a.strip() for a in match["args"].split(",") if a.strip()]
        signed = not kind.startswith(("ap_u", "u"))
        width = int(args[0])
        if kind.endswith("int"):
            return cls(width, width, signed)
        integer = int(args[1])
        rounding = Rounding(_prefixed(args[2])) if len(args) > 2 else Rounding.TRN
        overflow = Overflow(_prefixed(args[3])) if len(args) > 3 else Overflow.WRAP
        return cls(width, integer, signed, rounding, overflow)

    def to_json(self) -> dict[str, Any]:
        return {
            "width": self.width,
            "integer": self.integer,
            "signed": self.signed,
            "rounding": self.rounding.name,
            "overflow": self.overflow.name,
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> FixedType:
        return cls(
            obj["width"],
            obj["integer"],
            obj["signed"],
            Rounding[obj["rounding"]],
            Overflow[obj["overflow"]],
        )


def _prefixed(mode: str) -> str:
    return mode if mode.startswith("AP_") else f"AP_{mode}"
