"""Every classifier metric against an answer known by construction or by hand."""

from __future__ import annotations

import math

import dcor
import numpy as np
import pytest

from datrig.errors import DatrigError
from datrig.metrics import classifier as m
from datrig.metrics import decorrelation as dm


def test_auc_of_separated_and_identical_distributions():
    label = np.array([1] * 5 + [0] * 5)
    _, _, auc = m.roc(np.r_[np.arange(10, 15), np.arange(5)], label)
    assert auc == 1.0
    _, _, auc = m.roc(np.r_[np.arange(5), np.arange(5)], label)
    assert auc == 0.5


def test_threshold_rule_and_rejection_on_constructed_sample():
    # signal scores 1..10, background scores 0.5, 1.5, ..., 19.5 (20 events)
    sig = np.arange(1.0, 11.0)
    bkg = np.arange(20) + 0.5
    score, label = np.r_[sig, bkg], np.r_[np.ones(10), np.zeros(20)]
    wp = m.working_point(score, label, 0.8)
    assert wp.threshold == 3.0  # 8 of 10 signal scores are >= 3
    assert wp.eff_sig == 0.8
    assert wp.eff_bkg == 17 / 20  # 3.5 .. 19.5
    assert wp.rejection == pytest.approx(20 / 17)
    wp = m.working_point(score, label, 0.1)
    assert (wp.threshold, wp.eff_bkg) == (10.0, 10 / 20)


def test_rejection_is_infinite_when_no_background_passes():
    wp = m.working_point(np.array([5.0, 6.0, 1.0]), np.array([1, 1, 0]), 0.9)
    assert wp.eff_bkg == 0.0 and math.isinf(wp.rejection)


def test_efficiency_gain_at_equal_rejection():
    # perfectly separating score: reaches 100 % signal efficiency at any background efficiency
    score, label = np.r_[np.ones(50), np.zeros(50)], np.r_[np.ones(50), np.zeros(50)]
    gain = m.efficiency_gain(score, label, m.WorkingPoint(math.nan, 0.8, 0.1))
    assert gain["eff_sig_at_baseline_rejection"] == 1.0
    assert gain["gain"] == pytest.approx(0.25)


@pytest.mark.parametrize("n", [30, 400])
def test_distance_correlation_matches_dcor_reference(n, rng):
    x = rng.normal(size=n)
    y = x**2 + rng.normal(scale=0.5, size=n)
    expected = dcor.distance_correlation(x, y, method="naive")
    assert dm.distance_correlation(x, y) == pytest.approx(expected, rel=1e-9)


def test_distance_correlation_limits(rng):
    x = rng.normal(size=2000)
    assert dm.distance_correlation(x, 3.0 * x + 1.0) == pytest.approx(1.0)
    assert dm.distance_correlation(x, rng.normal(size=2000)) < 0.1
    assert dm.distance_correlation(x, np.ones(2000)) == 0.0


def test_binned_efficiency_and_flatness():
    variable = np.array([0.1, 0.2, 1.1, 1.2, 2.1, 2.2, 3.0])
    passed = np.array([1, 1, 1, 0, 0, 0, 1], dtype=bool)
    eff, err = dm.binned_efficiency(passed, variable, np.array([0.0, 1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(eff, [1.0, 0.5, 1 / 3])
    assert err[0] == 0.0
    flat = dm.flatness(np.array([0.25, 0.25, 0.25]))
    assert flat == {"std_over_mean": 0.0, "max_over_min": 1.0}
    assert dm.flatness(np.array([0.1, 0.3]))["max_over_min"] == pytest.approx(3.0)
    assert dm.flatness(np.array([0.1, 0.3]))["std_over_mean"] == pytest.approx(0.5)


def test_quantile_bin_edges_have_equal_population(rng):
    x = rng.exponential(size=10_000)
    edges = dm.quantile_bin_edges(x, 5)
    counts, _ = np.histogram(x, edges)
    np.testing.assert_array_equal(counts, [2000] * 5)


def test_jsd_identical_disjoint_and_by_hand():
    assert m.jsd([1, 2, 3], [2, 4, 6]) == pytest.approx(0.0, abs=1e-15)
    assert m.jsd([5, 0], [0, 7]) == pytest.approx(1.0)
    # p = (1, 0), q = (1/2, 1/2), M = (3/4, 1/4): JSD = (log2(4/3) + (log2(2/3) + 1) / 2) / 2
    expected = 0.5 * (math.log2(4 / 3) + 0.5 * (math.log2(2 / 3) + 1.0))
    assert m.jsd([1, 0], [1, 1]) == pytest.approx(expected, rel=1e-12)
    with pytest.raises(DatrigError, match="empty histogram"):
        m.jsd([0, 0], [1, 1])


def test_asimov_significance_known_values():
    # 2 * (110 ln 1.1 - 10) = 0.968238...
    assert m.asimov_significance(10.0, 100.0) == pytest.approx(math.sqrt(0.9682380), rel=1e-6)
    # s << b: Z -> s / sqrt(b)
    assert m.asimov_significance(1.0, 1e6) == pytest.approx(1e-3, rel=1e-5)
    assert m.asimov_significance(0.0, 10.0) == 0.0


def test_domain_auc_is_symmetrised():
    domain = np.r_[np.zeros(5), np.ones(5)]
    assert m.domain_auc(np.arange(10.0), domain) == 1.0
    assert m.domain_auc(-np.arange(10.0), domain) == 1.0
    assert m.domain_auc(np.r_[np.arange(5.0), np.arange(5.0)], domain) == 0.5
    with pytest.raises(DatrigError, match="both domains"):
        m.domain_auc(np.arange(3.0), np.zeros(3))


def test_bad_scores_give_clear_errors():
    with pytest.raises(DatrigError, match="1 scores are NaN"):
        m.roc(np.array([0.1, np.nan]), np.array([1, 0]))
    with pytest.raises(DatrigError, match="both signal and background"):
        m.working_point(np.array([0.1, 0.2]), np.array([1, 1]), 0.8)
    with pytest.raises(DatrigError, match="signal efficiency"):
        m.threshold_at_efficiency(np.array([0.1]), 1.5)


def test_pt_binned_dcor_sees_a_cancellation_the_global_one_hides(rng):
    """Protected = pT + x; score = x - pT: at fixed pT fully dependent, overall much less."""
    from datrig.metrics.decorrelation import distance_correlation
    from datrig.validate.evaluate import _dcor_at_fixed

    n = 20_000
    pt = rng.uniform(0.0, 4.0, n)
    x = rng.normal(0.0, 1.0, n)
    protected, score = pt + x, x - pt
    assert distance_correlation(score, protected) < 0.3
    assert _dcor_at_fixed(score, protected, pt, 4) > 0.6
    independent = rng.normal(0.0, 1.0, n)
    assert _dcor_at_fixed(independent, protected, pt, 4) < 0.05
