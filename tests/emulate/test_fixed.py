"""ap_fixed semantics: hand-computed cases per mode, and bit-exact against the real headers."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from datrig.emulate.fixed import from_float, quantize, to_float
from datrig.errors import DatrigError
from datrig.ir.fixed import FixedType, Overflow, Rounding

AP_TYPES = Path(__file__).resolve().parents[2] / ".venv/lib/python3.11/site-packages/hls4ml"
AP_TYPES = AP_TYPES / "templates/vivado/ap_types"

# Values in units of 1/4, cast to a type with 0 fractional bits: ties at +-2.5, +-1.5, +-0.5.
QUARTERS = np.array([10, 6, 2, -2, -6, -10, 3, -3, 5, -5, 7, -7, 1, -1], dtype=np.int64)
EXPECTED_ROUNDING = {
    #                  2.5 1.5 .5 -.5 -1.5 -2.5 .75 -.75 1.25 -1.25 1.75 -1.75 .25 -.25
    Rounding.TRN: [2, 1, 0, -1, -2, -3, 0, -1, 1, -2, 1, -2, 0, -1],
    Rounding.TRN_ZERO: [2, 1, 0, 0, -1, -2, 0, 0, 1, -1, 1, -1, 0, 0],
    Rounding.RND: [3, 2, 1, 0, -1, -2, 1, -1, 1, -1, 2, -2, 0, 0],
    Rounding.RND_ZERO: [2, 1, 0, 0, -1, -2, 1, -1, 1, -1, 2, -2, 0, 0],
    Rounding.RND_MIN_INF: [2, 1, 0, -1, -2, -3, 1, -1, 1, -1, 2, -2, 0, 0],
    Rounding.RND_INF: [3, 2, 1, -1, -2, -3, 1, -1, 1, -1, 2, -2, 0, 0],
    Rounding.RND_CONV: [2, 2, 0, 0, -2, -2, 1, -1, 1, -1, 2, -2, 0, 0],
}


def assert_exact(actual: np.ndarray, expected: np.ndarray, what: str) -> None:
    actual, expected = np.asarray(actual), np.asarray(expected)
    n_diff = int(np.count_nonzero(actual != expected))
    assert n_diff == 0, f"{what}: {n_diff} of {expected.size} elements differ"


@pytest.mark.parametrize("rounding", list(Rounding))
def test_rounding_modes_by_hand(rounding: Rounding) -> None:
    to = FixedType(8, 8, True, rounding, Overflow.WRAP)
    assert_exact(quantize(QUARTERS, 2, to), EXPECTED_ROUNDING[rounding], rounding.name)
    # Same values through the float path (2.5 -> 10/4 etc.).
    assert_exact(from_float(QUARTERS / 4.0, to), EXPECTED_ROUNDING[rounding], rounding.name)


def test_overflow_modes_by_hand() -> None:
    # ap_fixed<4,4>: range [-8, 7].
    values = np.array([7, 8, 9, 15, 16, 17, -8, -9, -16, -17, 0], dtype=np.int64)
    expected = {
        Overflow.WRAP: [7, -8, -7, -1, 0, 1, -8, 7, 0, -1, 0],
        Overflow.SAT: [7, 7, 7, 7, 7, 7, -8, -8, -8, -8, 0],
        Overflow.SAT_ZERO: [7, 0, 0, 0, 0, 0, -8, 0, 0, 0, 0],
        Overflow.SAT_SYM: [7, 7, 7, 7, 7, 7, -7, -7, -7, -7, 0],
    }
    for overflow, exp in expected.items():
        to = FixedType(4, 4, True, Rounding.TRN, overflow)
        assert_exact(quantize(values, 0, to), exp, overflow.name)
    # Unsigned ap_ufixed<3,3>: range [0, 7].
    unsigned = {
        Overflow.WRAP: [7, 0, 1, 7, 0, 1, 0, 7, 0, 7, 0],
        Overflow.SAT: [7, 7, 7, 7, 7, 7, 0, 0, 0, 0, 0],
        Overflow.SAT_ZERO: [7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    }
    for overflow, exp in unsigned.items():
        to = FixedType(3, 3, False, Rounding.TRN, overflow)
        assert_exact(quantize(values, 0, to), exp, f"unsigned {overflow.name}")


def test_rounding_carry_into_overflow() -> None:
    # 7.5 rounds up to 8, which does not fit ap_fixed<4,4>: SAT clamps to 7, WRAP gives -8.
    sat = FixedType(4, 4, True, Rounding.RND, Overflow.SAT)
    wrap = FixedType(4, 4, True, Rounding.RND, Overflow.WRAP)
    assert_exact(quantize(np.array([15]), 1, sat), [7], "SAT")
    assert_exact(quantize(np.array([15]), 1, wrap), [-8], "WRAP")


def test_widening_and_huge_values() -> None:
    t = FixedType(10, 4, True, Rounding.TRN, Overflow.SAT)
    assert_exact(quantize(np.array([3, -3]), 0, t), [3 * 64, -3 * 64], "exact widening")
    # 2**40 LSBs shifted left by 30 exceeds int64 internally: must still saturate correctly.
    t2 = FixedType(12, -20, True, Rounding.TRN, Overflow.SAT)
    huge = np.array([1 << 40, -(1 << 40), 1], dtype=np.int64)
    assert_exact(quantize(huge, 0, t2), [2047, -2048, 2047], "huge SAT")
    t3 = FixedType(12, -20, True, Rounding.TRN, Overflow.WRAP)
    assert_exact(quantize(huge, 0, t3), [0, 0, 0], "huge WRAP")
    assert_exact(from_float(np.array([1e30, -1e30]), t), [511, -512], "huge float SAT")


def test_to_float_and_errors() -> None:
    t = FixedType(8, 3)
    np.testing.assert_array_equal(to_float(np.array([-128, 1, 127]), t), [-4.0, 1 / 32, 127 / 32])
    with pytest.raises(DatrigError, match="NaN"):
        from_float(np.array([1.0, np.nan]), t)
    with pytest.raises(DatrigError, match="int64"):
        quantize(np.array([1]), 0, FixedType(70, 10))


# --- bit-exact against the Vivado ap_fixed headers shipped with hls4ml -----------------------

SOURCE = FixedType(40, 16)  # wide exact source: mantissas < 2**39 are exact doubles
TARGETS = [
    FixedType(w, i, s, r, o)
    for (w, i, s) in [(6, 2, True), (5, 3, False), (9, -1, True)]
    for r in Rounding
    for o in Overflow
    if s or o is not Overflow.SAT_SYM
]


def _cpp_program(targets: list[FixedType]) -> str:
    lines = [
        "#include <cstdio>",
        '#include "ap_fixed.h"',
        f"typedef {SOURCE.to_hls()} src_t;",
        "int main() {",
        "  double d;",
        '  while (std::scanf("%la", &d) == 1) {',
        "    src_t s = d;",
    ]
    for k, t in enumerate(targets):
        lines += [
            f"    {{ {t.to_hls()} a = s; {t.to_hls()} b = d;",
            f'      std::printf("%a %a ", a.to_double(), b.to_double()); }} // {k}',
        ]
    lines += ['    std::printf("\\n");', "  }", "  return 0;", "}"]
    return "\n".join(lines)


@pytest.fixture(scope="module")
def ap_fixed_reference(tmp_path_factory: pytest.TempPathFactory):
    gxx = shutil.which("g++")
    if gxx is None or not AP_TYPES.is_dir():
        pytest.skip("g++ or hls4ml's ap_types headers not available")
    work = tmp_path_factory.mktemp("apfixed")
    (work / "cast.cpp").write_text(_cpp_program(TARGETS))
    subprocess.run(
        [gxx, "-O1", "-std=c++14", f"-I{AP_TYPES}", "cast.cpp", "-o", "cast"],
        cwd=work,
        check=True,
        capture_output=True,
    )
    rng = np.random.default_rng(4)
    mant = np.concatenate(
        [
            rng.integers(-(1 << 30), 1 << 30, 3000),  # around the targets' ranges
            rng.integers(-(1 << 39), (1 << 39) - 1, 500),  # far out of range
            rng.integers(-(1 << 22), 1 << 22, 500) << 17 | (1 << 16),  # exact ties
            np.arange(-300, 300) << 18,
        ]
    ).astype(np.int64)
    values = to_float(mant, SOURCE)
    run = subprocess.run(
        [str(work / "cast")],
        input="\n".join(float(v).hex() for v in values) + "\n",
        capture_output=True,
        text=True,
        check=True,
    )
    table = np.array(
        [[float.fromhex(tok) for tok in line.split()] for line in run.stdout.splitlines()]
    )
    return mant, values, table


@pytest.mark.tools
@pytest.mark.parametrize("k", range(len(TARGETS)), ids=[t.to_hls() for t in TARGETS])
def test_bit_exact_against_ap_fixed_headers(ap_fixed_reference, k: int) -> None:
    mant, values, table = ap_fixed_reference
    t = TARGETS[k]
    from_fixed, from_double = table[:, 2 * k], table[:, 2 * k + 1]
    ours_fixed = to_float(quantize(mant, SOURCE.fractional, t), t)
    ours_double = to_float(from_float(values, t), t)
    assert_exact(ours_fixed, from_fixed, f"{t.to_hls()} from ap_fixed")
    assert_exact(ours_double, from_double, f"{t.to_hls()} from double")
