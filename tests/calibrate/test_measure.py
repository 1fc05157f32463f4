"""The measurement on counts whose answer is known in closed form, and on synthetic events."""

from __future__ import annotations

import numpy as np
import pytest

from datrig.calibrate.analysis import Sample, Settings, calibrate
from datrig.calibrate.measure import LI, LN, MI, MN, TI, TN, abcd_factors, estimate
from datrig.errors import DatrigError

# isolated photons: 1000, of which 800 tight, 180 middle, 20 in the control band; 5 % of
# photons are non-isolated with the same split
PHOTONS = np.array([800.0, 40.0, 180.0, 9.0, 20.0, 1.0])


def _fakes(k: float, r: float = 1.0, r_m: float = 1.0) -> np.ndarray:
    """Fakes with isolation ratio k in the control band and ABCD factors r (tight), r_m."""
    f = np.zeros(6)
    f[TN], f[MN], f[LN] = 300.0, 900.0, 6000.0
    f[LI], f[TI], f[MI] = k * f[LN], r * k * f[TN], r_m * k * f[MN]
    return f


def test_decorrelated_fakes_are_recovered_exactly():
    fakes = _fakes(k=0.4)
    est = estimate(PHOTONS + fakes, PHOTONS, np.ones(()), np.ones(()))
    assert est.fakes_a == pytest.approx(fakes[TI], rel=1e-12)  # 120
    assert est.efficiency == pytest.approx(0.8, rel=1e-12)
    assert est.isolated_photons == pytest.approx(1000.0, rel=1e-12)


def test_correlated_fakes_need_r_and_get_it_from_simulation():
    fakes = _fakes(k=0.4, r=2.0, r_m=1.5)
    wrong = estimate(PHOTONS + fakes, PHOTONS, np.ones(()), np.ones(()))
    assert 0.4 < wrong.fakes_a / fakes[TI] < 0.5  # R = 1 assumed: about half (and S is off)
    r, r_m = abcd_factors(fakes)
    assert (r, r_m) == (pytest.approx(2.0), pytest.approx(1.5))
    right = estimate(PHOTONS + fakes, PHOTONS, r, r_m)
    assert right.fakes_a == pytest.approx(fakes[TI], rel=1e-12)
    assert right.efficiency == pytest.approx(0.8, rel=1e-12)


def test_efficiency_is_measured_not_copied_from_simulation():
    """Data photons 75 % efficient, simulation 80 %: the measurement finds 75 %, because
    simulation only provides the small leakage fractions (here identical)."""
    data_photons = PHOTONS.copy()
    data_photons[[TI, MI]] = [750.0, 230.0]
    data_photons[[TN, MN]] = [37.5, 11.5]
    est = estimate(data_photons + _fakes(k=0.4), PHOTONS, np.ones(()), np.ones(()))
    assert est.efficiency == pytest.approx(0.75, abs=2e-3)


def _synthetic(n: int, rng: np.random.Generator, *, correlated: bool, domain: int):
    """Photons and fakes with pT, isolation and a score; fakes' score independent of
    isolation (or not), photons' isolation small."""
    dtype = [("pt", "f4"), ("eta", "f4"), ("iso_calo", "f4"), ("label", "i1"), ("domain", "i1"),
             ("mu", "f4"), ("converted", "i1"), ("e_raw", "f4"), ("e_ps", "f4")]  # fmt: skip
    ev = np.zeros(n, dtype)
    ev["label"] = rng.random(n) < 0.5
    ev["domain"] = domain
    ev["pt"] = 20 * rng.pareto(2.0, n) + 20
    ev["eta"] = rng.uniform(-2.3, 2.3, n)
    ev["mu"] = rng.normal(35, 8, n)
    ev["converted"] = rng.random(n) < 0.3
    ev["e_raw"] = ev["pt"] * np.cosh(ev["eta"])
    ev["e_ps"] = rng.exponential(1.0, n)
    photon = ev["label"] == 1
    ev["iso_calo"] = np.where(photon, rng.exponential(0.8, n), rng.exponential(4.0, n))
    score = np.where(photon, rng.normal(2.0, 1.0, n), rng.normal(-1.0, 1.0, n))
    if correlated:
        score = np.where(photon, score, score - 0.04 * ev["iso_calo"])
    return Sample(ev, score)


@pytest.fixture(scope="module")
def samples():
    rng = np.random.default_rng(3)
    n = 400_000
    return {
        corr: (
            _synthetic(n, rng, correlated=corr, domain=0),
            _synthetic(n, rng, correlated=corr, domain=1),
        )
        for corr in (False, True)
    }


def test_independent_score_closes_and_a_correlated_one_does_not(samples):
    settings = Settings(n_replicas=40, seed=2)
    good = calibrate(*samples[False], settings).bins["pt"]
    for b in good:
        c = b["closure"]["uncorrected"]
        assert abs(c["value"] - 1) < 3 * c["err"] + 0.01, b["label"]
        sf = b["scale_factor"]["measured_over_truth"]
        assert abs(sf["value"] - 1) < 3 * sf["err"] + 1e-3
    bad = calibrate(*samples[True], settings).bins["pt"]
    assert all(b["closure"]["uncorrected"]["value"] < 0.8 for b in bad)
    assert all(b["abcd_r"]["sim"]["value"] > 1.2 for b in bad)


def test_data_labels_are_never_read(samples):
    """Permuting the data labels changes the closure (the truth moves), not one estimate."""
    sim, data = samples[True]
    settings = Settings(n_replicas=20, seed=5)
    shuffled = data.events.copy()
    shuffled["label"] = np.random.default_rng(0).permutation(shuffled["label"])
    a = calibrate(sim, data, settings).bins
    b = calibrate(sim, Sample(shuffled, data.score), settings).bins
    for binning in a:
        for x, y in zip(a[binning], b[binning], strict=True):
            assert x["fakes_a"]["uncorrected"] == y["fakes_a"]["uncorrected"]
            assert x["fakes_a"]["corrected_with_sim_r"] == y["fakes_a"]["corrected_with_sim_r"]
            assert x["efficiency"]["data_measured"] == y["efficiency"]["data_measured"]
            assert x["scale_factor"]["measured"] == y["scale_factor"]["measured"]
            assert x["fakes_a"]["truth"] != y["fakes_a"]["truth"]


def test_too_few_events_name_the_bin_and_region(samples):
    sim, data = samples[False]
    small = Sample(data.events[:300], data.score[:300])
    with pytest.raises(DatrigError, match=r"calibration bin 'pT .* GeV': the data sample has \d+ "
                       r"events in region .* \(need >= 20\)"):  # fmt: skip
        calibrate(sim, small, Settings(n_replicas=5))
    with pytest.raises(DatrigError, match="no candidates"):
        Sample(data.events[:0], data.score[:0])
