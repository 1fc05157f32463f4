from __future__ import annotations

import numpy as np
import pytest

from datrig.errors import DatrigError
from datrig.validate.resolution import binned_response, iqr_half, response_summary


def test_iqr_of_a_normal_is_1_349_sigma(rng):
    sigma = 0.05
    x = rng.normal(1.0, sigma, 400_000)
    assert 2 * iqr_half(x) == pytest.approx(1.3490 * sigma, rel=0.01)


def test_iqr_half_exact_on_uniform_grid():
    # quantiles of 0..100 (linear interpolation): q25 = 25, q75 = 75
    assert iqr_half(np.arange(101.0)) == 25.0


def test_response_summary(rng):
    x = rng.normal(0.95, 0.02, 100_001)
    s = response_summary(x)
    assert s["response"] == pytest.approx(0.95, abs=1e-3)
    assert s["resolution_rel"] == pytest.approx(s["resolution"] / s["response"])
    assert s["n"] == 100_001
    with pytest.raises(DatrigError, match="1 energy ratios"):
        response_summary(np.array([1.0, np.inf]))


def test_binned_response_assigns_last_edge_to_last_bin():
    ratio = np.array([1.0, 1.2, 0.8, 1.1])
    energy = np.array([5.0, 15.0, 15.0, 20.0])
    out = binned_response(ratio, energy, np.array([0.0, 10.0, 20.0]))
    assert out["n"] == [1, 3]
    assert out["response"] == [1.0, 1.1]
