from __future__ import annotations

import dcor as dcor_pkg
import numpy as np

from datrig.train.metrics import dcor, jsd, regression_metrics, rejection_at


def test_chunked_dcor_agrees_with_dcor_package():
    rng = np.random.default_rng(0)
    x = rng.normal(size=2500)
    y = np.abs(x) + rng.normal(size=2500)
    assert abs(dcor(x, y, 10_000, chunk=700) - dcor_pkg.distance_correlation(x, y)) < 1e-9
    assert abs(dcor(x, y, 1000) - dcor_pkg.distance_correlation(x[:1000], y[:1000])) < 1e-9


def test_jsd_limits():
    p = np.array([1.0, 2.0, 3.0])
    assert jsd(p, 2 * p) == 0.0
    assert abs(jsd(np.array([1.0, 0.0]), np.array([0.0, 1.0])) - 1.0) < 1e-12


def test_rejection_at_efficiency():
    score = np.array([0.1, 0.2, 0.3, 0.4, 0.85, 0.7, 0.8, 0.9])
    label = np.array([0, 0, 0, 1, 0, 1, 1, 1])
    rej, cut = rejection_at(score, label, 0.5)
    assert 0.6 < cut < 0.8 and rej == 4.0  # only 1 of 4 background events above the cut


def test_response_and_resolution():
    events = np.zeros(4, dtype=[("e_true", "f4"), ("e_raw", "f4")])
    events["e_true"] = 100.0
    events["e_raw"] = [90.0, 95.0, 100.0, 105.0]
    m = regression_metrics(np.ones(4), events)
    assert abs(m["median_response"] - 0.975) < 1e-6
    assert m["raw_median_response"] == m["median_response"]
