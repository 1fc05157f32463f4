"""The pT-conditional penalties (disco_pt, flat) on toys with a known answer.

Toy: pT falls in four well-separated clusters of equal size (so the fitted equal-population pT
edges fall in the gaps and every bin is one cluster); isolation and score both shift with the
cluster (iso = f(pt) + noise, score = sigmoid(g(pt) + noise)). Independent toy: the two noises
are independent, so score and isolation are exactly independent within each pT bin, while
globally both follow pT. Dependent toy: the score noise contains the isolation noise.
"""

from __future__ import annotations

import json

import dcor
import numpy as np
import pytest
import torch

from datrig.da.base import PenaltyInputs, PenaltySetup
from datrig.da.disco import DiscoPenalty
from datrig.da.disco_pt import ConditionalDiscoPenalty
from datrig.da.flat import FlatnessPenalty
from datrig.errors import DatrigError

N_PER_BIN = 1000
LEVELS = (0.5, 0.7, 0.8, 0.9, 0.95)
# the first form of the flatness penalty (squared efficiency differences, fixed-width cuts on
# the score, one pT bin per toy cluster), which the closed-form checks below are written for
LEGACY_FLAT = dict(n_pt_bins=4, levels=LEVELS, cut_space="score", diff="eff", window=None,
                   ema=None, integral=0.0)  # fmt: skip


def toy(seed: int, dependent: bool, n_per_bin: int = N_PER_BIN):
    rng = np.random.default_rng(seed)
    cluster = rng.permutation(np.repeat(np.arange(4), n_per_bin))  # shuffled like a batch
    pt = 30.0 + 20.0 * cluster + rng.uniform(0, 5, len(cluster))
    iso_noise, noise = rng.normal(size=(2, len(cluster)))
    iso = 1.0 * cluster + iso_noise
    logit = 1.0 * (cluster - 1.5) + (0.8 * iso_noise + 0.6 * noise if dependent else noise)
    return pt, iso, 1 / (1 + np.exp(-logit))


def inputs(pt, iso, score, requires_grad: bool = False) -> PenaltyInputs:
    n = len(score)
    return PenaltyInputs(
        outputs=torch.tensor(score, requires_grad=requires_grad),
        protected=torch.tensor(iso),
        weights=torch.ones(n, dtype=torch.float64),
        latent=torch.zeros(n, 2),
        inputs=torch.zeros(n, 2),
        domain=torch.zeros(n),
        condition=torch.tensor(pt),
    )


def fitted(cls, seed: int = 100, **options):
    pt, iso, _ = toy(seed, dependent=False)
    pen = cls(**options)
    pen.setup(PenaltySetup(iso.astype(np.float32), 2, 2, condition=pt.astype(np.float32)))
    return pen


def disco_null_mean(pt, iso, score) -> float:
    """Population-weighted mean over the pT clusters of E[dCor^2_n] under independence,
    mean|x_i-x_j| mean|y_i-y_j| / (n dVar_n(x) dVar_n(y)) (Szekely, Rizzo & Bakirov 2007,
    Thm 5: n dCor^2_n -> Q, E[Q] = E|X-X'| E|Y-Y'| / dVar^2 as the denominators converge)."""
    cluster = np.round((pt - 30) / 20).astype(int)
    terms = []
    for c in range(4):
        x, y = score[cluster == c], iso[cluster == c]
        s2 = np.abs(x[:, None] - x).mean() * np.abs(y[:, None] - y).mean()
        dvar = np.sqrt(dcor.distance_covariance_sqr(x, x) * dcor.distance_covariance_sqr(y, y))
        terms.append(s2 / (len(x) * dvar))
    return float(np.mean(terms))  # equal cluster sizes


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_disco_pt_sees_only_the_dependence_at_fixed_pt(seed):
    pen = fitted(ConditionalDiscoPenalty)
    pt, iso, score = toy(seed, dependent=False)
    indep = float(pen(inputs(pt, iso, score)))
    # the null n*dCor^2 has std/mean < 0.5 (Gaussian case); 4 bins averaged: 2x mean ~ 4 sigma
    assert indep < 2 * disco_null_mean(pt, iso, score) < 0.01
    assert float(DiscoPenalty()(inputs(pt, iso, score))) > 0.25  # global: both follow pT
    assert float(pen(inputs(*toy(seed, dependent=True)))) > 0.3


def flat_null_bound(pen: FlatnessPenalty, pt, iso, score) -> float:
    """E[P] under independence: eff_c - eff_b is a difference of means of the soft indicator p
    (Var p <= eff (1 - eff) since 0 <= p <= 1) with Var(eff_c - eff_b) = Var p (1/n_c - 1/n_b)
    (eff_b contains eff_c). The thresholds, set from the batch, are treated as fixed."""
    t = np.quantile(score, LEVELS)
    p = 1 / (1 + np.exp(-(score[:, None] - t) / pen.tau))
    cluster = np.round((pt - 30) / 20).astype(int)
    eff_b = np.stack([p[cluster == c].mean(axis=0) for c in range(4)])  # (bins, K)
    n_b = N_PER_BIN
    n_c = n_b / pen.n_iso_bins  # equal-population cells; the edges come from another sample
    return float((eff_b * (1 - eff_b)).mean() * (1 / n_c - 1 / n_b))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_flat_is_at_the_noise_level_only_when_independent_at_fixed_pt(seed):
    pen = fitted(FlatnessPenalty, **LEGACY_FLAT)
    pt, iso, score = toy(seed, dependent=False)
    bound = flat_null_bound(pen, pt, iso, score)
    # a mean over 20 cells (16 free) x 5 correlated thresholds: relative std ~0.35, 2x ~ 3 sigma
    assert float(pen(inputs(pt, iso, score))) < 2 * bound
    dependent = inputs(*toy(seed, dependent=True), requires_grad=True)
    value = pen(dependent)
    assert float(value.detach()) > 20 * bound
    value.backward()
    grad = dependent.outputs.grad
    assert torch.isfinite(grad).all() and grad.abs().sum() > 0


def test_disco_pt_agrees_with_dcor_in_every_bin():
    pen = fitted(ConditionalDiscoPenalty, max_events=50)
    pt, iso, score = toy(5, dependent=True, n_per_bin=80)
    pt[:3] = [30.5, 30.6, 30.7]  # three more events in the first bin
    values, populations = pen.bin_terms(inputs(pt, iso, score))
    bins = np.searchsorted(pen.edges.numpy(), pt, side="left")  # number of edges below
    expected = []
    for b in range(4):
        first = np.flatnonzero(bins == b)[:50]  # the cap: the first max_events of the bin
        expected.append(dcor.distance_correlation(score[first], iso[first]) ** 2)
    # rtol: distance_correlation_sq adds eps = 1e-12 under its square root
    np.testing.assert_allclose(values.detach().numpy(), expected, rtol=1e-9)
    counts = np.bincount(bins, minlength=4)
    assert populations.tolist() == counts.tolist()
    total = float(pen(inputs(pt, iso, score)))
    assert total == pytest.approx(np.dot(counts, expected) / counts.sum(), rel=1e-9)


def test_disco_pt_skips_bins_with_fewer_than_8_events():
    pen = fitted(ConditionalDiscoPenalty)
    pt, iso, score = toy(6, dependent=True, n_per_bin=30)
    keep = (pt > 50) | (np.cumsum(pt < 50) <= 7)  # 7 events of the first bin remain
    values, populations = pen.bin_terms(inputs(pt[keep], iso[keep], score[keep]))
    assert populations.tolist() == [30, 30, 30] and len(values) == 3


def flat_numpy(pen: FlatnessPenalty, train_pt, train_iso, pt, iso, score) -> float:
    """The flatness loss written out directly, loop by loop."""
    inner = np.linspace(0, 1, pen.n_pt_bins + 1)[1:-1]
    pt_edges = np.quantile(train_pt, inner).astype(np.float32)
    train_bin = np.searchsorted(pt_edges, train_pt, side="left")
    bins = np.searchsorted(pt_edges, pt, side="left")
    iso_inner = np.linspace(0, 1, pen.n_iso_bins + 1)[1:-1]
    num = den = 0.0
    for t in np.quantile(score, LEVELS):
        passed = 1 / (1 + np.exp(-(score - t) / pen.tau))
        for b in range(pen.n_pt_bins):
            in_b = bins == b
            edges = np.quantile(train_iso[train_bin == b], iso_inner).astype(np.float32)
            cells = np.searchsorted(edges, iso[in_b], side="left")
            for c in range(pen.n_iso_bins):
                n_c = np.count_nonzero(cells == c)
                if n_c >= pen.min_events:
                    diff = passed[in_b][cells == c].mean() - passed[in_b].mean()
                    num, den = num + n_c * diff**2, den + n_c
    return num / den


def test_flat_agrees_with_a_direct_numpy_computation():
    train_pt, train_iso, _ = toy(100, dependent=False)
    train_pt, train_iso = train_pt.astype(np.float32), train_iso.astype(np.float32)
    pen = FlatnessPenalty(**LEGACY_FLAT)
    pen.setup(PenaltySetup(train_iso, 2, 2, condition=train_pt))
    pt, iso, score = toy(7, dependent=True, n_per_bin=60)  # some cells below 8 events
    ours = float(pen(inputs(pt, iso, score)))
    assert ours == pytest.approx(flat_numpy(pen, train_pt, train_iso, pt, iso, score), rel=1e-9)


@pytest.mark.parametrize("seed", [0, 1])
def test_default_flat_is_scale_free_and_separates_dependence(seed):
    """The default form (logit efficiencies, quantile-adaptive cut widths, running averages):
    a monotonic squeeze of the score (which a fixed cut width could be fooled by) leaves the
    penalty unchanged, and it is far larger for the dependent toy than for the independent one."""
    pt, iso, score = toy(seed, dependent=False)
    dep = toy(seed, dependent=True)[2]

    def value(s, **options):
        pen = fitted(FlatnessPenalty, n_pt_bins=4, **options)
        return float(pen(inputs(pt, iso, s)))

    squeezed = 1 / (1 + np.exp(-0.1 * np.log(dep / (1 - dep))))  # logits x 0.1
    assert value(squeezed) == pytest.approx(value(dep), rel=1e-6)
    assert value(dep) > 10 * value(score)
    assert value(squeezed, window=None, tau=0.3) < 0.05 * value(dep, window=None, tau=0.3)


def test_running_average_and_multipliers_give_the_gradient_of_the_averaged_deviation():
    pen = fitted(FlatnessPenalty, n_pt_bins=4, ema=0.5, integral=0.1)
    pt, iso, score = toy(9, dependent=True)
    first = inputs(pt, iso, score, requires_grad=True)
    value = pen(first)
    value.backward()
    assert torch.isfinite(first.outputs.grad).all() and first.outputs.grad.abs().sum() > 0
    d = pen.ema_d.clone()
    assert torch.equal(pen.multiplier, 0.1 * d)  # the first batch initialises the average
    pen(inputs(pt, iso, score))
    assert torch.allclose(pen.ema_d, d) and torch.allclose(pen.multiplier, 0.2 * d)
    restored = fitted(FlatnessPenalty, n_pt_bins=4, ema=0.5, integral=0.1)
    restored.load_checkpoint_state(pen.checkpoint_state())  # resumable: state in the buffers
    assert torch.equal(restored.multiplier, pen.multiplier)


def test_warmup_reports_the_penalty_without_pulling():
    pen = fitted(
        FlatnessPenalty, n_pt_bins=4, ema=None, integral=0.0, warmup_epochs=1, ramp_epochs=2
    )
    pt, iso, score = toy(10, dependent=True)
    grads = []
    for epoch in range(4):
        pen.on_epoch_start(epoch)
        batch = inputs(pt, iso, score, requires_grad=True)
        value = pen(batch)
        value.backward()
        assert float(value.detach()) > 0
        grads.append(float(batch.outputs.grad.abs().sum()))
    assert grads[0] == 0.0
    assert grads[1] == pytest.approx(grads[3] / 2) and grads[2] == pytest.approx(grads[3])


def test_fixed_thresholds_replace_the_batch_quantiles():
    pen = fitted(FlatnessPenalty, **{**LEGACY_FLAT, "thresholds": [0.99]})
    pt, iso, score = toy(8, dependent=True)
    assert float(pen(inputs(pt, iso, np.minimum(score, 0.5)))) == pytest.approx(0.0, abs=1e-12)


def test_a_model_without_condition_is_a_clear_error(tmp_path, capsys):
    for cls in (ConditionalDiscoPenalty, FlatnessPenalty):
        with pytest.raises(DatrigError, match=r"needs a conditioning variable; got none"):
            cls().setup(PenaltySetup(np.zeros(10, np.float32), 2, 2))
        cls.check_model("photon_id", "pt")  # fine
    message = "penalty 'flat' needs a conditioning variable; model photon_energy declares none"
    with pytest.raises(DatrigError, match=message):
        FlatnessPenalty.check_model("photon_energy", None)

    from datrig.cli import main
    from datrig.sim.simulate import simulate

    simulate(tmp_path / "data", 300, 50, seed=3, progress=False)
    argv = ["qat", "--model", "photon_energy", "--da", "disco_pt", "--data",
            str(tmp_path / "data"), "--out", str(tmp_path / "run"), "--quiet"]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "datrig qat: error: penalty 'disco_pt' needs a conditioning variable; "
        "model photon_energy declares none"
    ]
    assert not (tmp_path / "run").exists()


@pytest.fixture(scope="module")
def sim_dir(tmp_path_factory):
    from datrig.sim.simulate import simulate

    out = tmp_path_factory.mktemp("conditional_data")
    simulate(out, 2000, 200, seed=3, progress=False)
    return out


@pytest.mark.parametrize(("da", "lam"), [("disco_pt", 10.0), ("flat", 3.0)])
def test_qat_trains_photon_id_with_the_conditional_penalties(sim_dir, tmp_path, da, lam):
    from datrig.cli import main

    out = tmp_path / da
    argv = ["qat", "--model", "photon_id", "--da", da, "--data", str(sim_dir), "--out", str(out),
            "--epochs", "1", "--n-train", "800", "--quiet"]  # fmt: skip
    assert main(argv) == 0
    assert json.loads((out / "config.json").read_text())["lam"] == lam
    curves = json.loads((out / "curves.json").read_text())
    assert np.isfinite(curves["train_penalty"][0]) and curves["train_penalty"][0] > 0
