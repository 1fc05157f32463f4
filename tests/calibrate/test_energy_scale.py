"""The in-situ energy-scale fit on synthetic photon pairs whose true scales are known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from datrig.calibrate.energy_closure import closure
from datrig.calibrate.energy_evaluate import ResonancePhotons, calibrate_energy
from datrig.calibrate.energy_scale import (
    CategoryFit,
    Pairs,
    ScaleSettings,
    fit_scales,
    median_with_error,
    opening_cosine,
    solve_bins,
)
from datrig.errors import DatrigError
from datrig.metrics.energy_bins import eta_bin

BINS = ((0.0, 1.0), (1.0, 2.0), (2.0, 2.5))
SETTINGS = ScaleSettings(eta_bins=BINS, min_events=200)
TRUE_LOG_SCALE = np.array([-0.002, 0.004, -0.008])  # data vs simulation, per bin


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(2027)


def _photons(rng, n_events: int, log_scale: np.ndarray, smear: float) -> ResonancePhotons:
    """Z-like pairs: Breit-Wigner masses, photons back to back in the transverse plane at
    random eta; measured energies E_true exp(a_bin) (1 + 1.5 % N) (1 + smear N)."""
    m = 91.19 + 1.25 * np.tan(rng.uniform(-1.4, 1.4, n_events))
    eta = rng.uniform(-2.5, 2.5, (n_events, 2))
    phi = np.stack([np.zeros(n_events), np.full(n_events, np.pi)], 1)
    cos = opening_cosine(eta, phi)
    # equal energies E with 2 E^2 (1 - cos) = m^2
    e_true = np.repeat((m / np.sqrt(2 * (1 - cos)))[:, None], 2, axis=1)
    bins = eta_bin(np.abs(eta), BINS)
    scale = np.exp(log_scale[np.clip(bins, 0, None)])
    noise = (1 + 0.015 * rng.standard_normal(eta.shape)) * (
        1 + smear * rng.standard_normal(eta.shape)
    )
    return ResonancePhotons(
        e_firmware=(e_true * scale * noise).reshape(-1),
        e_true=e_true.reshape(-1),
        eta=eta.reshape(-1),
        phi=phi.reshape(-1),
        bins=bins.reshape(-1),
    )


def test_eta_bins_close_the_last_edge_and_skip_gaps():
    bins = ((0.0, 1.0), (1.5, 2.0))
    got = eta_bin(np.array([0.0, 0.999, 1.0, 1.2, 1.5, 2.0, 2.1]), bins)
    assert got.tolist() == [0, 0, -1, -1, 1, 1, -1]


def test_opening_angle_by_hand():
    eta = np.array([[0.0, 0.0], [0.0, 0.0], [1.0, -1.0]])
    phi = np.array([[0.0, np.pi], [0.0, np.pi / 2], [0.3, 0.3]])
    expected = [-1.0, 0.0, (1 - np.tanh(1.0) ** 2) - np.tanh(1.0) ** 2]  # sin^2 - cos^2 theta
    np.testing.assert_allclose(opening_cosine(eta, phi), expected, atol=1e-12)


def test_solve_bins_is_the_exact_average_by_hand():
    fits = [CategoryFit((0, 0), 1, 1, 0.01, 0.001), CategoryFit((1, 1), 1, 1, 0.03, 0.001),
            CategoryFit((0, 1), 1, 1, 0.02, 0.001)]  # fmt: skip
    a, err = solve_bins(fits, 2)
    np.testing.assert_allclose(a, [0.01, 0.03], atol=1e-12)
    assert np.all(err > 0) and np.all(err < 0.001)
    with pytest.raises(DatrigError, match=r"bin\(s\) \[2\] have no category"):
        solve_bins(fits, 3)


def test_median_error_matches_the_gaussian_formula(rng):
    x = rng.standard_normal(40_000)
    value, err = median_with_error(x)
    assert abs(value) < 4 * err
    assert err == pytest.approx(math.sqrt(math.pi / 2) / math.sqrt(x.size), rel=0.1)


def test_fit_recovers_known_scales_with_worse_data_resolution(rng):
    sim = _photons(rng, 120_000, np.zeros(3), smear=0.0)
    data = _photons(rng, 120_000, TRUE_LOG_SCALE, smear=0.006)
    result = fit_scales(sim.pairs(), data.pairs(), SETTINGS)
    pulls = (result.log_scale - TRUE_LOG_SCALE) / result.log_scale_err
    assert np.all(np.abs(pulls) < 4), pulls
    assert np.all(result.log_scale_err < 6e-4)
    fitted = [c for c in result.categories if np.isfinite(c.alpha)]
    assert len(fitted) == 6 and all(0.002 < c.smearing < 0.012 for c in fitted)


def test_correction_closes_and_never_reads_data_truth(rng):
    """Permuting the data's true energies moves the closure, not the measured scales."""
    sim = _photons(rng, 60_000, np.zeros(3), smear=0.0)
    data = _photons(rng, 60_000, TRUE_LOG_SCALE, smear=0.0)
    scale, corrected, bins = calibrate_energy({"sim": sim, "data": data}, SETTINGS)
    for b in bins:
        before, after = b.diff_before, b.diff_after
        assert abs(before[0]) > 0.0015  # the injected miscalibration, seen through the truth
        assert abs(after[0]) < 4 * after[1] + 3e-4
    np.testing.assert_allclose(corrected["data"], data.e_firmware * scale.correction(data.bins))
    shuffled = ResonancePhotons(
        data.e_firmware, rng.permutation(data.e_true), data.eta, data.phi, data.bins
    )
    scale2, _, bins2 = calibrate_energy({"sim": sim, "data": shuffled}, SETTINGS)
    np.testing.assert_array_equal(scale2.log_scale, scale.log_scale)
    assert [b.data_after for b in bins2] != [b.data_after for b in bins]


def test_closure_medians_by_hand():
    settings = ScaleSettings(eta_bins=((0.0, 1.0),))
    from datrig.calibrate.energy_scale import ScaleResult

    result = ScaleResult(settings, np.array([math.log(1.01)]), np.array([0.0]))
    sim = np.array([0.99, 1.0, 1.01])
    data = np.array([0.98, 1.0, 1.02, 5.0, 1.01])
    (b,) = closure(result, sim, np.zeros(3, int), data, data / 1.01, np.zeros(5, int))
    assert b.sim[0] == 1.0 and b.data_before[0] == 1.01
    assert b.diff_before[0] == pytest.approx(0.01) and b.diff_after[0] == pytest.approx(0.0)


def test_pairs_outside_every_bin_are_not_fitted():
    pairs = Pairs(np.ones((4, 2)), np.zeros(4), np.array([[0, -1], [-1, -1], [0, 0], [1, 0]]))
    with pytest.raises(DatrigError, match="no category with enough pairs"):
        fit_scales(pairs, pairs, ScaleSettings(eta_bins=((0.0, 1.0), (1.0, 2.0))))
