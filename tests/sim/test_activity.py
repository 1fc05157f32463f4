"""Event activity of the diphoton processes (datrig.sim.activity): known answers."""

from __future__ import annotations

import dataclasses

import numpy as np

from datrig.sim.activity import event_activity
from datrig.sim.config import ActivityDetectorConfig

N = 50_000


def _activity(top: bool, ratio: float = 0.0, hf: float = 0.0, **det):
    cfg = dataclasses.replace(ActivityDetectorConfig(), **det)
    rng = np.random.default_rng(7)
    return event_activity(
        rng,
        np.full(N, top),
        np.full(N, ratio),
        np.full(N, 20.0),
        np.full(N, hf),
        cfg,
    )


def test_quiet_events_have_only_soft_met():
    """No tops, no extra jets, no fakes: nothing but the soft term, MET ~ Rayleigh(met_soft)."""
    a = _activity(False, fake_lepton_rate=0.0)
    for name in ("n_jets", "n_bjets", "n_leptons", "ht"):
        assert np.all(a[name] == 0), name
    expected = ActivityDetectorConfig().met_soft * np.sqrt(np.pi / 2)
    assert abs(a["met"].mean() / expected - 1.0) < 0.02


def test_extra_jets_follow_berends_scaling():
    """P(n) ~ r^n: mean r / (1 - r), and P(n+1)/P(n) = r."""
    r = 0.45
    a = _activity(False, ratio=r)
    assert abs(a["n_jets"].mean() / (r / (1 - r)) - 1.0) < 0.03
    p = np.bincount(a["n_jets"].astype(int))[:3] / N
    np.testing.assert_allclose(p[1:] / p[:-1], r, rtol=0.05)


def test_top_pair_multiplicities():
    """tt -> bW bW: at most 6 top jets and 2 b's from tops; leptons only from leptonic W's."""
    det = ActivityDetectorConfig()
    a = _activity(True, fake_lepton_rate=0.0, mistag_rate=0.0)
    assert a["n_jets"].max() <= 6 and a["n_leptons"].max() <= 2
    assert np.all(a["n_bjets"] <= np.minimum(a["n_jets"], 2))
    expected_leptons = 2 * det.w_leptonic * det.lepton_efficiency
    assert abs(a["n_leptons"].mean() / expected_leptons - 1.0) < 0.05
    # each leptonic W removes two quark jets
    assert a["n_jets"][a["n_leptons"] == 0].mean() > a["n_jets"][a["n_leptons"] == 2].mean() + 2
    assert np.all(a["ht"] >= det.jet_pt_min * a["n_jets"])
    # neutrinos: more MET with leptons
    assert np.median(a["met"][a["n_leptons"] > 0]) > np.median(a["met"][a["n_leptons"] == 0]) + 10
