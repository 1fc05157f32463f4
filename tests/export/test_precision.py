"""Exact fixed-point type derivation: the narrowest types that lose nothing."""

from __future__ import annotations

import numpy as np
import pytest

from datrig.errors import DatrigError
from datrig.export.precision import exact_type, fraction_bits, is_quantizer_type, to_fixed
from datrig.ir.fixed import FixedType, Overflow, Rounding


def test_fraction_bits() -> None:
    assert fraction_bits(np.array([0.5, 0.25, -1.0])) == 2
    assert fraction_bits(np.array([3.0, 5.0])) == 0
    assert fraction_bits(np.array([0.0])) == -8
    with pytest.raises(DatrigError, match="power-of-two"):
        fraction_bits(np.array([0.1]))


@pytest.mark.parametrize(
    ("lo", "hi", "frac", "signed", "expected"),
    [
        (-1.0, 0.75, 2, True, FixedType(3, 1)),  # mantissas -4..3
        (-1.0, 1.0, 2, True, FixedType(4, 2)),  # 4 needs one more bit
        (0.0, 7.875, 3, False, FixedType(6, 3, False)),
        (-0.25, 0.0, 2, True, FixedType(2, 0)),
    ],
)
def test_exact_type(lo: float, hi: float, frac: int, signed: bool, expected: FixedType) -> None:
    t = exact_type(lo, hi, frac, signed)
    assert t == expected
    assert t.min_mantissa * t.lsb <= lo and hi <= t.max_mantissa * t.lsb


def test_quantizer_types_are_recognised_by_their_modes() -> None:
    assert is_quantizer_type(FixedType(8, 3, True, Rounding.RND_CONV, Overflow.SAT))
    assert not is_quantizer_type(FixedType(16, 6))
    assert to_fixed("fixed<8,3,RND_CONV,SAT,0>") == FixedType(
        8, 3, True, Rounding.RND_CONV, Overflow.SAT
    )
    assert to_fixed("float") is None
