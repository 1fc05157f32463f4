"""peak: W1 between the data and simulated resonance peaks, within |eta| categories."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from datrig.da.base import PenaltyInputs, RunData
from datrig.da.peak import PeakPenalty
from datrig.data.features import Feature
from datrig.errors import DatrigError


class Constant(torch.nn.Module):
    """A network that predicts the correction ``c`` for every photon: E = c e_raw."""

    def __init__(self, c: float = 1.0) -> None:
        super().__init__()
        self.c = torch.nn.Parameter(torch.tensor(c))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.c.expand(x.shape[0], 1)


@pytest.fixture(scope="module")
def run_data(tmp_path_factory) -> RunData:
    from datrig.data.features import fit_normalisation, raw_features
    from datrig.sim.simulate import simulate

    root = tmp_path_factory.mktemp("peak")
    simulate(root, 20, 10, seed=4, progress=False, n_resonance=6000)
    features = [Feature("e_raw", "log"), Feature("eta", "abs")]
    names, transforms = [f.column for f in features], [f.transform for f in features]
    raw = raw_features(root / "resonance_sim.h5", names, False, "train", None)
    return RunData(root, fit_normalisation(raw, names, transforms), None, 3)


def _penalty(run_data: RunData, pairs: int = 2048) -> PeakPenalty:
    penalty = PeakPenalty(pairs=pairs)
    penalty.attach(run_data)
    penalty.on_epoch_start(0)
    return penalty


def _value(penalty: PeakPenalty, model: torch.nn.Module) -> torch.Tensor:
    empty = torch.zeros(0)
    batch = PenaltyInputs(empty, empty, empty, empty, empty, empty, model=model)
    return penalty(batch)


def test_value_is_w1_per_category_by_hand(run_data):
    """Recompute the step's draw and the W1 of each category's sorted log masses in numpy."""
    penalty = _penalty(run_data)
    sim, data = penalty._draw()
    penalty.step = 0
    value = float(_value(penalty, Constant()).detach())
    total, n = 0.0, 0
    for pairs, sample in ((sim, penalty.samples["sim"]), (data, penalty.samples["data"])):
        e = sample.e_raw.numpy().astype(np.float64).reshape(-1, 2)[pairs]
        logm = 0.5 * (np.log(e).sum(axis=1) + sample.log_angle.numpy()[pairs])
        if sample is penalty.samples["sim"]:
            sim_logm, sim_cat = logm, sample.category[pairs]
        else:
            data_logm, data_cat = logm, sample.category[pairs]
    for c in np.unique(data_cat):
        a, b = np.sort(sim_logm[sim_cat == c]), np.sort(data_logm[data_cat == c])
        assert a.size == b.size  # simulated pairs drawn to the data's category counts
        total += np.abs(b - a).sum()
        n += a.size
    assert value == pytest.approx(total / n, rel=1e-4)
    assert value > 0.004  # the data peak of raw energies sits lower (more material)


def test_identical_domains_cost_only_sampling_noise(run_data):
    real = float(_value(_penalty(run_data), Constant()).detach())
    same = _penalty(run_data)
    same.samples["data"] = same.samples["sim"]
    same._data_usable = np.arange(len(same.samples["sim"]))
    assert float(_value(same, Constant()).detach()) < 0.5 * real


def test_a_global_scale_costs_nothing_and_the_draw_is_seeded(run_data):
    a = _penalty(run_data)
    b = _penalty(run_data)
    model = Constant(1.0)
    va = _value(a, model)
    va.backward()
    assert abs(float(model.c.grad)) < 1e-6  # both domains scale together
    assert float(va.detach()) == pytest.approx(float(_value(b, Constant(1.3)).detach()), rel=1e-6)
    assert float(_value(a, Constant()).detach()) != float(va.detach())  # next step: other pairs


def test_only_energy_models_and_only_with_a_resonance_sample(run_data, tmp_path):
    assert not PeakPenalty.applies_to(None, False, "logit")
    assert PeakPenalty.applies_to(None, False, "energy_correction")
    with pytest.raises(DatrigError, match="predicts no energy"):
        PeakPenalty.check_model("diphoton", None)
    from datrig.sim.simulate import simulate

    simulate(tmp_path / "d", 20, 10, seed=4, progress=False, n_resonance=5)
    for domain in ("sim", "data"):
        (tmp_path / "d" / f"resonance_{domain}.h5").unlink()
    missing = RunData(tmp_path / "d", run_data.normalisation, None, 1)
    with pytest.raises(DatrigError, match="penalty 'peak' trains on the resonance sample"):
        PeakPenalty().attach(missing)
