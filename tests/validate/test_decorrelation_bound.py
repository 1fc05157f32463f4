"""The independence bound on a toy whose answer is known in closed form."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from datrig.errors import DatrigError
from datrig.validate.decorrelation_bound import independent_rejection_bound


def _toy(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Feature a separates everything; feature b only the fakes with protected p >= 0.5.

    For fakes with p < 0.5 only a helps: the optimal rejection at 80 % is 1 / Phi(z80 - 2),
    and a score independent of p cannot do better anywhere.
    """
    label = rng.integers(0, 2, n)
    p = rng.uniform(0.0, 1.0, n)
    fake = label == 0
    a = rng.normal(0.0, 1.0, n) + 2.0 * (~fake)
    b = rng.normal(0.0, 1.0, n) - 3.0 * (fake & (p >= 0.5))
    return np.stack([a, b], axis=1), label, p


def test_bound_matches_closed_form() -> None:
    x, label, p = _toy(60_000, np.random.default_rng(7))
    bound = independent_rejection_bound(x, label, p, efficiency=0.8, n_slices=4, seed=1)
    exact = 1.0 / norm.sf(2.0 + norm.ppf(0.2))  # fakes N(0,1) above the signal 20 % quantile
    assert exact == pytest.approx(8.10, abs=0.01)
    low, high = bound.rejection_per_slice[:2], bound.rejection_per_slice[2:]
    assert np.all(np.abs(low / exact - 1) < 0.08), (low, exact)
    assert np.all(high > 2 * exact), high  # b rejects these fakes too
    assert bound.rejection == pytest.approx(exact, rel=0.08)
    assert bound.to_json("80")["rejection80_sim"] == bound.rejection


def test_same_seed_same_bound() -> None:
    x, label, p = _toy(8_000, np.random.default_rng(3))
    a = independent_rejection_bound(x, label, p, efficiency=0.8, n_slices=2, seed=5)
    b = independent_rejection_bound(x, label, p, efficiency=0.8, n_slices=2, seed=5)
    assert np.array_equal(a.rejection_per_slice, b.rejection_per_slice)


def test_bad_features_are_a_clear_error() -> None:
    x, label, p = _toy(1_000, np.random.default_rng(0))
    x[3, 1] = np.nan
    with pytest.raises(DatrigError, match="NaN"):
        independent_rejection_bound(x, label, p, efficiency=0.8, n_slices=2, seed=0)


def test_mismatched_lengths_are_a_clear_error() -> None:
    x, label, p = _toy(1_000, np.random.default_rng(0))
    with pytest.raises(DatrigError, match="must share N"):
        independent_rejection_bound(x, label, p[:-1], efficiency=0.8, n_slices=2, seed=0)


def test_too_few_background_events_give_nan_not_a_number() -> None:
    x, label, p = _toy(600, np.random.default_rng(0))
    bound = independent_rejection_bound(x, label, p, efficiency=0.8, n_slices=4, seed=0)
    assert np.isnan(bound.rejection_per_slice).all() and np.isnan(bound.rejection)


def test_conditional_bound_on_a_toy_with_an_independent_condition() -> None:
    """pT independent of everything: each pT bin has the same closed-form bound, and so has
    the best overall split of the signal efficiency."""
    from datrig.validate.decorrelation_bound import conditional_rejection_bound

    rng = np.random.default_rng(11)
    x, label, p = _toy(120_000, rng)
    pt = rng.uniform(20, 80, len(label))
    bound = conditional_rejection_bound(
        x, label, p, pt, efficiency=0.8, n_slices=2, condition_edges=np.array([20.0, 50, 80]),
        seed=2,
    )  # fmt: skip
    exact = 1.0 / norm.sf(2.0 + norm.ppf(0.2))
    assert np.all(np.abs(bound.rejection_per_bin / exact - 1) < 0.1), bound.rejection_per_bin
    assert bound.rejection == pytest.approx(exact, rel=0.1)
    assert bound.to_json("80")["rejection80_per_ptbin_sim"] == bound.rejection_per_bin.tolist()


def test_best_allocation_by_hand() -> None:
    """Two bins with half the signal and half the fakes each. Bin 0's fakes pass at the
    signal efficiency squared, bin 1's at 0.01 whatever the efficiency: at 80 % overall the
    best split gives bin 0 as little efficiency as the grid allows (0.6), bin 1 everything."""
    from datrig.validate.decorrelation_bound import EFFICIENCY_GRID, _best_allocation

    fake_eff = np.stack([EFFICIENCY_GRID**2, np.full(EFFICIENCY_GRID.size, 0.01)])
    total, allocation = _best_allocation(fake_eff, np.array([0.5, 0.5]), np.array([0.5, 0.5]), 0.8)
    assert allocation.tolist() == [0.6, 1.0]
    assert total == pytest.approx(0.5 * 0.36 + 0.5 * 0.01)
