"""datrig's own 1-D distance correlation against dcor, the reference."""

import dcor
import numpy as np
import pytest

from datrig.metrics.dcov1d import _dominance_sums, distance_correlation_1d


@pytest.mark.parametrize("n", [2, 3, 4, 5, 8, 9, 31, 64, 65, 1000])
def test_equals_dcor_naive_across_power_of_two_boundaries(n, rng):
    x = rng.normal(size=n)
    y = x**2 + rng.normal(scale=0.5, size=n)
    expected = dcor.distance_correlation(x, y, method="naive")
    assert distance_correlation_1d(x, y) == pytest.approx(expected, rel=1e-12, abs=1e-14)


def test_ties_in_either_variable_like_ranks_and_integer_isolation(rng):
    x = rng.integers(0, 4, size=3000).astype(np.float64)
    y = np.where(rng.random(3000) < 0.6, 0.0, rng.exponential(size=3000)) + 0.5 * x
    expected = dcor.distance_correlation(x, y, method="naive")
    assert distance_correlation_1d(x, y) == pytest.approx(expected, rel=1e-12)


def test_large_sample_equals_dcor_mergesort_to_rounding(rng):
    x = rng.normal(size=200_000) * 1e3 + 5e4  # offset and scale: the expansion stays precise
    y = np.abs(x - 5e4) + rng.normal(scale=300.0, size=x.size)
    expected = dcor.distance_correlation(x, y, method="mergesort")
    assert distance_correlation_1d(x, y) == pytest.approx(expected, rel=1e-10)


def test_limits(rng):
    x = rng.normal(size=500)
    assert distance_correlation_1d(x, 2.0 * x - 7.0) == pytest.approx(1.0, rel=1e-12)
    assert distance_correlation_1d(x, np.full(500, 3.0)) == 0.0
    assert distance_correlation_1d(np.ones(1), np.ones(1)) == 0.0


def test_dominance_sums_equal_the_quadratic_definition(rng):
    n = 37
    rank = rng.permutation(n)
    weights = rng.normal(size=(2, n))
    expected = np.array(
        [[sum(w[j] for j in range(i) if rank[j] < rank[i]) for i in range(n)] for w in weights]
    )
    np.testing.assert_allclose(_dominance_sums(rank, weights), expected, rtol=1e-13, atol=1e-13)


def test_the_product_does_not_load_dcor():
    """dcor's numba kernels cost seconds per process and grow its cache on every run."""
    import subprocess
    import sys

    code = (
        "import sys, numpy as np\n"
        "from datrig.metrics.decorrelation import rank_distance_correlation\n"
        "x = np.arange(100.0); rank_distance_correlation(x, x**2)\n"
        "assert 'dcor' not in sys.modules and 'numba' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
