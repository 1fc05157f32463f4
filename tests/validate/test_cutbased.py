from __future__ import annotations

import numpy as np
import pytest

from datrig.errors import DatrigError
from datrig.validate.cutbased import cross_fit_pass, tune_cuts
from tests.validate.validate_toys import photon_events


@pytest.mark.parametrize("target", [0.8, 0.9])
def test_tuned_cuts_reach_target_efficiency_and_reject(target, rng):
    ev = photon_events(4000, rng)
    label = ev["label"]
    cuts = tune_cuts(ev, label, target)
    passed = cuts.passes(ev)
    n_sig = int((label == 1).sum())
    assert int(passed[label == 1].sum()) == int(np.ceil(target * n_sig - 1e-9))
    eff_bkg = passed[label == 0].mean()
    assert eff_bkg < 0.5 * (1 - target) + 0.25  # far better than a random cut (= target)
    # the orientation found matches how the toy was built: odd shapes larger for fakes
    assert cuts.directions["Reta"] == -1 and cuts.directions["Rhad"] == 1


def test_tuning_is_deterministic(rng):
    ev = photon_events(2000, rng)
    a = tune_cuts(ev, ev["label"], 0.85).to_json()
    b = tune_cuts(ev.copy(), ev["label"].copy(), 0.85).to_json()
    assert a == b


def test_cross_fit_uses_only_sim_for_tuning(rng):
    ev = photon_events(4000, rng)
    passed, cuts = cross_fit_pass(ev, ev["label"], ev["domain"], 0.8, seed=3)
    assert len(cuts) == 2
    sim_sig = (ev["domain"] == 0) & (ev["label"] == 1)
    assert abs(passed[sim_sig].mean() - 0.8) < 0.05
    again, _ = cross_fit_pass(ev, ev["label"], ev["domain"], 0.8, seed=3)
    np.testing.assert_array_equal(passed, again)


def test_no_shower_shapes_is_a_clear_error():
    ev = np.zeros(4, dtype=[("pt", "f4"), ("label", "i1")])
    with pytest.raises(DatrigError, match="no shower-shape variables"):
        tune_cuts(ev, ev["label"], 0.8)
