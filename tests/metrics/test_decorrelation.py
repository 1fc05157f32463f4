"""ABCD factor, flatness and rank dCor against answers known by construction."""

from __future__ import annotations

import numpy as np
import pytest

from datrig.errors import DatrigError
from datrig.metrics.decorrelation import (
    OUTSIDE,
    REGION_A,
    REGION_B,
    REGION_C,
    REGION_D,
    AbcdRegions,
    abcd_factor,
    distance_correlation,
    flatness,
    pt_binned_decorrelation,
    rank_distance_correlation,
    region_counts,
)


def test_regions_by_hand():
    regions = AbcdRegions(pass_threshold=0.5, control_threshold=0.2, iso_cut=2.0, iso_gap=1.0)
    score = np.array([0.9, 0.9, 0.1, 0.1, 0.3, 0.9, 0.5, 0.2])
    iso = np.array([1.0, 4.0, 1.0, 4.0, 1.0, 2.5, 1.99, 3.01])
    assert regions.assign(score, iso).tolist() == [
        REGION_A, REGION_B, REGION_C, REGION_D,
        OUTSIDE,  # 0.3: between the control band and the ID cut
        OUTSIDE,  # iso 2.5: in the gap
        REGION_A,  # score at the threshold passes; iso just below the cut is isolated
        OUTSIDE,  # 0.2 is not below the control threshold
    ]  # fmt: skip


def test_abcd_factor_and_its_poisson_uncertainty():
    counts = np.array([[100.0, 50.0, 200.0, 100.0], [100.0, 25.0, 100.0, 100.0]])
    r, err = abcd_factor(counts)
    assert r.tolist() == [1.0, 4.0]  # 100*100/(50*200); 100*100/(25*100)
    rel = np.sqrt([1 / 100 + 1 / 50 + 1 / 200 + 1 / 100, 1 / 100 + 1 / 25 + 1 / 100 + 1 / 100])
    np.testing.assert_allclose(err, r * rel)
    r, err = abcd_factor(np.array([3.0, 0.0, 2.0, 1.0]))
    assert np.isnan(r) and np.isnan(err)


def test_independent_score_and_isolation_give_r_one(rng):
    """Among fakes with score independent of isolation, R = 1 within its uncertainty; with a
    score that grows with isolation, R < 1 (non-isolated fakes pass more often)."""
    n = 400_000
    iso = rng.exponential(3.0, n)
    regions = AbcdRegions(0.8, 0.8, iso_cut=2.0, iso_gap=1.0)
    bins = np.zeros(n, dtype=int)
    r, err = abcd_factor(region_counts(regions.assign(rng.random(n), iso), bins, 1)[0])
    assert abs(r - 1) < 3 * err and err < 0.03
    dependent = rng.random(n) + 0.05 * iso
    r, err = abcd_factor(region_counts(regions.assign(dependent, iso), bins, 1)[0])
    assert r < 1 - 10 * err


def test_flatness_chi2_by_hand():
    eff = np.array([0.1, 0.2, 0.3])
    err = np.array([0.1, 0.1, 0.1])
    flat = flatness(eff, err)
    assert flat["max_over_min"] == pytest.approx(3.0)
    assert flat["chi2"] == pytest.approx((0.01 + 0 + 0.01) / 0.01) and flat["ndf"] == 2


def test_rank_dcor_is_unchanged_by_a_monotonic_map(rng):
    x = rng.normal(size=3000)
    y = x + rng.normal(size=3000)
    raw = distance_correlation(x, y)
    squashed = distance_correlation(1 / (1 + np.exp(-4 * x)), y)
    assert abs(raw - squashed) > 0.02  # the raw figure moves with the score's shape ...
    assert rank_distance_correlation(x, y) == rank_distance_correlation(np.exp(3 * x), y**3)


def test_pt_bins_reveal_a_correlation_that_cancels_globally(rng):
    """Fakes: iso grows with pT; the score falls with pT and rises with iso at fixed pT.
    Globally R ~ 1 can hide R != 1 in every pT bin; per bin it shows."""
    n = 300_000
    pt = rng.uniform(0, 2, n)
    iso = pt + rng.exponential(1.0, n)
    score = iso - 2 * pt + rng.normal(0, 0.5, n)
    regions = AbcdRegions(0.5, 0.5, iso_cut=2.5, iso_gap=0.5)
    figs = pt_binned_decorrelation(score, iso, pt, regions, np.array([0.0, 1.0, 2.0]))
    assert np.all(figs.abcd_r < 0.5)  # passing fakes are the non-isolated ones at fixed pT
    assert np.all(figs.flatness_max_over_min > 3)
    assert figs.to_json()["abcd_r_max_deviation"] > 0.5


def test_regions_from_simulated_photons(rng):
    label = np.r_[np.ones(1000, int), np.zeros(1000, int)]
    score = np.r_[np.arange(1000) / 1000.0, rng.random(1000)]
    iso = np.r_[np.arange(1000) / 100.0, rng.random(1000)]
    regions = AbcdRegions.from_sim(score, label, iso, control_efficiency=0.95)
    assert regions.pass_threshold == 0.2  # 800 of the photon scores 0.000..0.999 are >= 0.2
    assert regions.control_threshold == 0.05
    assert regions.iso_cut == pytest.approx(8.991)
    with pytest.raises(DatrigError, match="control threshold"):
        AbcdRegions(0.1, 0.2, 1.0, 1.0)
