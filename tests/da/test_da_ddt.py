"""The learned DDT: the compensation makes the fake pass rate flat in isolation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from datrig.da.base import TrainingEvents
from datrig.da.ddt import LearnedDdtPenalty, fake_rate_at, pinball
from datrig.errors import DatrigError
from datrig.models.compensated import Branches, CompensatedMLP
from datrig.quant.config import QuantConfig


def test_pinball_is_minimised_at_the_quantile():
    u = torch.from_numpy(np.random.default_rng(1).normal(size=20001))
    grid = torch.linspace(-2, 2, 4001, dtype=torch.float64)
    losses = torch.stack([pinball(u - c, 0.9) for c in grid])
    best = float(grid[int(torch.argmin(losses))])
    assert best == pytest.approx(float(np.quantile(u.numpy(), 0.9)), abs=2e-3)


def test_fake_rate_at_the_working_point_hand_computed():
    photons = torch.arange(1.0, 21.0)  # the 20 % quantile is 4.8: 16 of 20 photons pass
    fakes = torch.cat([torch.tensor([5.5, 10.5, 4.7]), -torch.arange(1.0, 18.0)])
    output, label = torch.cat([photons, fakes]), torch.tensor([1] * 20 + [0] * 20)
    assert float(fake_rate_at(output, label, 0.8)) == pytest.approx(2 / 20)
    assert fake_rate_at(output[:30], label[:30], 0.8) is None  # too few fakes


def _toy(n: int, seed: int):
    """Shape x0 (fakes look more fake-like the less isolated they are), log pT, isolation."""
    rng = np.random.default_rng(seed)
    label = rng.integers(0, 2, n)
    iso = np.where(label == 1, rng.normal(0, 1, n), rng.exponential(4, n))
    x0 = np.where(label == 1, rng.normal(1.5, 1, n), rng.normal(-0.3 - 0.25 * iso, 1, n))
    logpt = rng.uniform(-1, 1, n)
    x = np.stack([x0, logpt, (iso - 2) / 3], axis=1).astype(np.float32)
    return torch.from_numpy(x), label, iso


def _pass_rates(model, x, label, iso, edges):
    with torch.no_grad():
        out = model(x).numpy()
    fake = label == 0
    bins = np.digitize(iso[fake], edges)
    return np.array([np.mean(out[fake][bins == b] >= 0) for b in range(len(edges) + 1)])


def _train_score(model: CompensatedMLP, x: torch.Tensor, label: np.ndarray) -> None:
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    y = torch.from_numpy(label).float()
    for step in range(300):
        idx = torch.from_numpy(np.random.default_rng(step).integers(0, len(x), 1024))
        loss = F.binary_cross_entropy_with_logits(model.forward_terms(x[idx]).task, y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        model.after_optimizer_step()


def test_refit_flattens_the_fake_pass_rate_across_isolation():
    torch.manual_seed(0)
    model = CompensatedMLP(3, Branches((0, 1), (1, 2), (8,), (8,)), QuantConfig())
    x, label, iso = _toy(30000, 1)
    _train_score(model, x, label)  # the score branch learns x0
    edges = np.quantile(iso[label == 0], [0.25, 0.5, 0.75])
    xv, lv, iv = _toy(30000, 2)
    before = _pass_rates(model, xv, lv, iv, edges)
    assert before.max() / max(before.min(), 1e-3) > 2  # the score alone is not flat
    penalty = LearnedDdtPenalty(refit_epochs=20, refit_lr=0.01, table_bins=0)
    events = TrainingEvents(lv, np.zeros_like(lv), iv, np.zeros(len(lv)), inputs=xv)
    penalty.after_training(model, events, seed=3)
    xt, lt, it = _toy(30000, 3)  # judged on events the refit never saw
    after = _pass_rates(model, xt, lt, it, edges)
    rate = float(penalty.fake_rate)
    assert np.all(np.abs(after / rate - 1) < 0.2), f"pass rates {after} vs {rate:.3f}"
    with torch.no_grad():
        eff = np.mean(model(xt).numpy()[lt == 1] >= 0)
    assert eff == pytest.approx(0.8, abs=0.04)
    model.check_masks()


def test_a_model_without_compensation_is_refused():
    with pytest.raises(DatrigError, match="compensation"):
        LearnedDdtPenalty.check_model("photon_id_gnn", "pt", compensated=False)


def test_a_closed_form_table_flattens_the_pass_rate_with_signed_weights():
    """table_bins: no compensation units; after training, the table fitted on signed-weight
    events (NLO-like: copies at +2 and -1 of the same event) is c, on the quantizers' grids,
    and the fakes' pass rate is flat in isolation on events the fit never saw."""
    from datrig.models import threshold_table as tt

    torch.manual_seed(0)
    blind = Branches((0, 1), (1, 2), (8,), ())
    model = CompensatedMLP(3, blind, QuantConfig(), threshold_table=True)
    x, label, _iso = _toy(30000, 1)
    _train_score(model, x, label)
    penalty = LearnedDdtPenalty(table_bins=4)
    assert penalty.refit_splits() == ("train", "val") and not penalty.needs_compensation
    xv, lv, iv = _toy(30000, 2)
    pairs = np.random.default_rng(4).integers(0, len(lv), 4000)  # +2 / -1 copies
    xw = torch.cat([xv, xv[pairs], xv[pairs]])
    lw = np.concatenate([lv, lv[pairs], lv[pairs]])
    weight = np.concatenate([np.ones(len(lv)), np.full(4000, 2.0), np.full(4000, -1.0)])
    iw = np.concatenate([iv, iv[pairs], iv[pairs]])
    events = TrainingEvents(lw, np.zeros_like(lw), iw, np.zeros(len(lw)), inputs=xw, weight=weight)
    penalty.after_training(model, events, seed=3)
    c_edges, _p_edges, table = tt.table_arrays(model)
    assert table.shape == (4, 4)
    with torch.no_grad():
        grid_c = model.input_quant(torch.from_numpy(np.tile(c_edges, (3, 1)).T).float()).value
        out_step = float(model.output_quant.act_quant.scale())
    assert np.array_equal(grid_c[:, 1].double().numpy(), c_edges)  # input-grid values
    assert np.array_equal(np.round(table / out_step), table / out_step)  # output-grid values
    xt, lt, it = _toy(30000, 3)
    with torch.no_grad():
        out = model.forward_terms(xt).output.numpy()
    fake = lt == 0
    edges = np.quantile(it[fake], [0.25, 0.5, 0.75])
    bins = np.digitize(it[fake], edges)
    rates = np.array([np.mean(out[fake][bins == b] >= 0) for b in range(4)])
    rate = float(penalty.fake_rate)
    assert np.all(np.abs(rates / rate - 1) < 0.2), f"pass rates {rates} vs {rate:.3f}"
    assert np.mean(out[lt == 1] >= 0) == pytest.approx(0.8, abs=0.04)


@pytest.mark.parametrize(
    ("options", "message"),
    [({"table_bins": 1}, "table_bins"), ({"domain_weight": 1.0}, "table_bins=0")],
)
def test_table_options_are_checked(options, message):
    with pytest.raises(DatrigError, match=message):
        LearnedDdtPenalty(**options)


def test_a_small_sample_gets_fewer_table_cells_and_too_small_a_clear_error():
    from datrig.models import threshold_table as tt

    torch.manual_seed(0)
    model = CompensatedMLP(3, Branches((0, 1), (1, 2), (8,), ()), QuantConfig(),
                           threshold_table=True)  # fmt: skip
    x, label, iso = _toy(1200, 5)  # ~600 fakes: 6 x 6 cells would hold ~17 each
    events = TrainingEvents(label, np.zeros_like(label), iso, np.zeros(len(label)), inputs=x)
    LearnedDdtPenalty(table_bins=6).after_training(model, events, seed=1)
    rows, cols = tt.table_arrays(model)[2].shape
    assert 2 <= rows < 6 and 2 <= cols < 6
    few = TrainingEvents(label[:100], np.zeros(100), iso[:100], np.zeros(100), inputs=x[:100])
    with pytest.raises(DatrigError, match="cannot fill"):
        LearnedDdtPenalty().after_training(model, few, seed=1)
