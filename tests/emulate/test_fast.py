"""The fast path (float64 mantissas + interval analysis) == the int64 stepwise reference, on
adversarial cases: exact rounding ties, saturation, wrapping, every rounding/overflow mode."""

from __future__ import annotations

import numpy as np
import pytest

from datrig.emulate import fastops
from datrig.emulate.fixed import _round_shift, apply_overflow, from_float
from datrig.emulate.intervals import Interval, plan_cast
from datrig.emulate.plan import compile_plan
from datrig.emulate.runner import emulate
from datrig.ir.fixed import FixedType, Overflow, Rounding
from datrig.ir.network import LayerIR, NetworkIR
from datrig.project.config import format_precision

MODES = [(r, o) for r in Rounding for o in Overflow]


def assert_same(fast: np.ndarray, ref: np.ndarray, what: str) -> None:
    n_diff = int(np.count_nonzero(np.asarray(fast) != np.asarray(ref)))
    assert n_diff == 0, f"{what}: {n_diff} of {np.size(ref)} elements differ"


@pytest.mark.parametrize("rounding", list(Rounding))
def test_round_shift_matches_int64_incl_ties(rounding: Rounding) -> None:
    m = np.concatenate([np.arange(-4096, 4097), (np.arange(-50, 50) << 20) + (1 << 2)])
    for shift in (1, 3, 7):
        ref = _round_shift(m.astype(np.int64), shift, rounding)
        fast = fastops.round_shift(m.astype(np.float64), shift, rounding)
        assert_same(fast, ref, f"{rounding.name} shift {shift}")


@pytest.mark.parametrize("overflow", list(Overflow))
def test_overflow_matches_int64(overflow: Overflow) -> None:
    m = np.concatenate([np.arange(-3000, 3000), [-(1 << 40), (1 << 40) + 5]]).astype(np.int64)
    for t in (FixedType(8, 3, True, overflow=overflow), FixedType(7, 2, False, overflow=overflow)):
        ref = apply_overflow(m.copy(), t)
        assert_same(fastops.overflow(m.astype(np.float64), t), ref, t.to_hls())


@pytest.mark.parametrize(
    ("rounding", "overflow"), MODES, ids=[f"{r.name}-{o.name}" for r, o in MODES]
)
def test_from_float_matches_int64(rounding: Rounding, overflow: Overflow) -> None:
    rng = np.random.default_rng(0)
    x = np.concatenate(
        [
            rng.normal(0, 4, 2000),
            (rng.integers(-400, 400, 500) + 0.5) / 16,  # exact ties of LSB 1/16
            [1e300, -1e300, 3e15, -3e15, 0.0, -0.0, 5e-324, -5e-324],
        ]
    )
    for t in (
        FixedType(10, 4, True, rounding, overflow),
        FixedType(9, 3, False, rounding, overflow),
    ):
        assert_same(fastops.from_float(x, t), from_float(x, t), t.to_hls())


def test_plan_cast_never_skips_a_reachable_overflow() -> None:
    t = FixedType(6, 2, True, Rounding.RND, Overflow.SAT)  # mantissas [-32, 31], 4 frac bits
    # [-64, 61] at 5 frac bits rounds to [-32, 31]: fits, no overflow handling needed.
    assert not plan_cast(Interval(-64, 61), 5, t).needs_overflow
    # 62/2 = 31 exactly but 63/2 = 31.5 rounds (half up) to 32: out of range.
    assert plan_cast(Interval(-64, 63), 5, t).needs_overflow
    assert plan_cast(Interval(0, 40), 4, t).result == Interval(0, 31)


def _random_dense_net(seed: int, acc: FixedType, res: FixedType, t_in: FixedType) -> NetworkIR:
    rng = np.random.default_rng(seed)
    w = rng.integers(-32, 32, (7, 5))
    b = rng.integers(-128, 128, 5)
    relu_t = FixedType(6, 2, False, Rounding.RND_CONV, Overflow.SAT)
    lin_t = FixedType(8, 3, True, Rounding.RND, Overflow.SAT)
    return NetworkIR(
        f"net{seed}",
        [
            LayerIR("in", "input", [], t_in, (7,)),
            LayerIR("lin", "linear", ["in"], lin_t, (7,)),
            LayerIR(
                "fc", "dense", ["lin"], res, (5,), types={"accum_t": acc},
                tensors={"weight": w, "bias": b},
                tensor_types={"weight": FixedType(6, 1), "bias": FixedType(8, 3)},
            ),
            LayerIR("relu", "relu", ["fc"], relu_t, (5,)),
        ],
        ["relu"],
    )  # fmt: skip


ACCUMULATORS = [
    FixedType(20, 8),  # wide wrapping: one matmul, no overflow handling
    FixedType(14, 4, True, Rounding.TRN, Overflow.WRAP),  # wraps for real: handled at the end
    FixedType(11, 4, True, Rounding.RND_CONV, Overflow.SAT),  # saturates: reference kernel
    FixedType(24, 9, True, Rounding.RND, Overflow.SAT),  # saturating but provably never hits
    FixedType(12, 6, True, Rounding.RND_INF, Overflow.WRAP),  # products rounded one by one
]


@pytest.mark.parametrize("acc", ACCUMULATORS, ids=[a.to_hls() for a in ACCUMULATORS])
@pytest.mark.parametrize(("rounding", "overflow"), MODES[::3], ids=lambda m: getattr(m, "name", m))
def test_fast_network_equals_stepwise(
    acc: FixedType, rounding: Rounding, overflow: Overflow
) -> None:
    res = FixedType(7, 2, True, rounding, overflow)
    t_in = FixedType(10, 4, True, rounding, overflow)
    ir = _random_dense_net(3, acc, res, t_in)
    rng = np.random.default_rng(1)
    x = np.concatenate(
        [rng.normal(0, 3, (3000, 7)), (rng.integers(-300, 300, (600, 7)) + 0.5) / 64]
    )
    x[:200] *= 40  # saturate / wrap the input type
    fast = emulate(ir, x, trace=True)
    ref = emulate(ir, x, trace=True, method="stepwise")
    assert_same(fast.mantissas, ref.mantissas, "output mantissas")
    assert fast.output.tobytes() == ref.output.tobytes()  # no -0.0 creeping in
    for name in ref.trace:
        assert_same(fast.trace[name], ref.trace[name], f"trace {name}")


def test_plan_uses_native_steps_where_provably_exact() -> None:
    native = {
        format_precision(a): compile_plan(
            _random_dense_net(0, a, FixedType(9, 3), FixedType(10, 4))
        )
        for a in ACCUMULATORS
    }
    fc = {k: next(s for s in steps if s.layer.name == "fc").native for k, steps in native.items()}
    assert fc == {
        "fixed<20,8,TRN,WRAP>": True,
        "fixed<14,4,TRN,WRAP>": True,
        "fixed<11,4,RND_CONV,SAT>": False,
        "fixed<24,9,RND,SAT>": True,
        "fixed<12,6,RND_INF,WRAP>": False,
    }
    wide = _random_dense_net(0, FixedType(60, 20), FixedType(9, 3), FixedType(10, 4))
    assert compile_plan(wide) is None  # too wide for float64 mantissas: stepwise only


def test_unknown_method_and_nan_inputs_are_refused() -> None:
    from datrig.errors import DatrigError

    ir = _random_dense_net(0, ACCUMULATORS[0], FixedType(9, 3), FixedType(10, 4))
    with pytest.raises(DatrigError, match="unknown emulation method"):
        emulate(ir, np.zeros((2, 7)), method="turbo")
    x = np.zeros((2, 7))
    x[1, 3] = np.nan
    with pytest.raises(DatrigError, match="1 input values are NaN"):
        emulate(ir, x)
