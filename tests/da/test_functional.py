"""The public DA API (``datrig.da``): against the reference packages, against datrig's own
trainer on the same batch, invariant under exact-cancelling signed weights, and loud on misuse.
"""

from __future__ import annotations

import dcor
import numpy as np
import pandas as pd
import pytest
import torch

import datrig.da as da
from datrig.da.base import FullBatch, PenaltyInputs, PenaltySetup, TrainingEvents
from datrig.da.registry import make_penalty
from datrig.errors import DatrigError


@pytest.fixture
def batch():
    rng = np.random.default_rng(3)
    n = 800
    pt = rng.uniform(10, 100, n)
    iso = rng.gamma(2.0, 1.0, n) + 0.02 * pt
    score = 1 / (1 + np.exp(-(rng.normal(size=n) - 0.3 * iso)))
    w = rng.uniform(0.5, 1.5, n)
    as_t = lambda a: torch.tensor(a, dtype=torch.float32)  # noqa: E731
    return {"score": as_t(score), "iso": as_t(iso), "pt": as_t(pt), "w": as_t(w), "rng": rng}


def _inputs(b, **extra):
    n = len(b["score"])
    return PenaltyInputs(
        b["score"],
        b["iso"],
        b["w"],
        torch.zeros(n, 2),
        torch.zeros(n, 2),
        torch.zeros(n, dtype=torch.long),
        b["pt"],
        **extra,
    )


def _cancelling(b, k=37):
    """The batch plus k of its rows twice more, once with +w and once with -w."""
    idx = torch.arange(k)
    out = {}
    for key in ("score", "iso", "pt"):
        out[key] = torch.cat([b[key], b[key][idx], b[key][idx]])
    out["w"] = torch.cat([b["w"], b["w"][idx], -b["w"][idx]])
    return out


# --- references -----------------------------------------------------------------------------


def test_disco_loss_equals_dcor_and_counts_integer_weights_as_repeats(batch):
    s, p = batch["score"].double(), batch["iso"].double()
    ref = dcor.distance_correlation(s.numpy(), p.numpy()) ** 2
    assert float(da.disco_loss(s, p)) == pytest.approx(ref, rel=1e-9)
    reps = torch.from_numpy(batch["rng"].integers(1, 4, len(s)))
    rep_s, rep_p = np.repeat(s.numpy(), reps.numpy()), np.repeat(p.numpy(), reps.numpy())
    ref_w = dcor.distance_correlation(rep_s, rep_p) ** 2
    assert float(da.disco_loss(s, p, reps.double())) == pytest.approx(ref_w, rel=1e-9)


def test_flatness_equals_hep_ml_bin_based_sde_on_the_same_binning(batch):
    """With efficiency differences, hard cuts and one condition bin, the flatness loss is
    hep_ml's squared standard deviation of efficiency (BinBasedSDE, power 2)."""
    from hep_ml.commonutils import weighted_quantile
    from hep_ml.metrics import BinBasedSDE

    s, iso, w = batch["score"].double(), batch["iso"].double(), batch["w"].double()
    n_bins, rcp = 5, [0.5, 0.7, 0.9]
    metric = BinBasedSDE(["iso"], uniform_label=0, n_bins=n_bins, target_rcp=rcp)
    frame = pd.DataFrame({"iso": iso.numpy()})
    y = np.zeros(len(s), dtype=int)
    metric.fit(frame, y, sample_weight=w.numpy())
    proba = np.stack([s.numpy(), 1 - s.numpy()], axis=1)
    sde = metric(y, proba, w.numpy())
    cuts = weighted_quantile(s.numpy(), rcp, sample_weight=w.numpy()) + 1e-12  # hep_ml: s > cut
    limits = np.linspace(iso.min(), iso.max(), n_bins + 1)[1:-1]
    bins = da.FlatnessBins(torch.zeros(0, dtype=torch.float64), torch.tensor(limits)[None, :])
    ours = da.flatness_loss(
        s,
        iso,
        torch.zeros_like(s),
        bins,
        torch.tensor(cuts),
        w,
        tau=1e-15,
        diff="eff",
        min_events=1,
    )
    assert float(ours) == pytest.approx(sde**2, rel=1e-9)


def test_flatness_at_every_threshold_is_hep_mls_bin_based_cvm(batch):
    """Averaged over working points at every background score, the efficiency-difference
    flatness is the Cramer-von Mises non-uniformity in bins of the protected variable that
    hep_ml's BinFlatnessLossFunction minimises (its metric BinBasedCvM, power 2)."""
    from hep_ml.metrics import BinBasedCvM

    s, iso = batch["score"].double(), batch["iso"].double()
    n_bins = 4
    metric = BinBasedCvM(["iso"], uniform_label=0, n_bins=n_bins)
    frame = pd.DataFrame({"iso": iso.numpy()})
    y = np.zeros(len(s), dtype=int)
    weights = np.ones(len(s))
    metric.fit(frame, y, sample_weight=weights)
    cvm = metric(y, np.stack([s.numpy(), 1 - s.numpy()], axis=1), weights)
    limits = np.linspace(iso.min(), iso.max(), n_bins + 1)[1:-1]
    bins = da.FlatnessBins(torch.zeros(0, dtype=torch.float64), torch.tensor(limits)[None, :])
    cuts = torch.unique(s)  # a cut at each value passes half of it: hep_ml's mid-point CDF
    ours = da.flatness_loss(s, iso, torch.zeros_like(s), bins, cuts, tau=1e-15, diff="eff",
                            min_events=1)  # fmt: skip
    assert float(ours) == pytest.approx(cvm, rel=1e-9)


# --- the trainer calls the same functions ----------------------------------------------------


def test_every_penalty_equals_its_functional_form_on_the_same_batch(batch):
    b = _inputs(batch)
    s, iso, pt, w = batch["score"], batch["iso"], batch["pt"], batch["w"]
    assert float(make_penalty("disco", max_events=10_000)(b)) == float(da.disco_loss(s, iso, w))

    cond = make_penalty("disco_pt", n_bins=4, max_events=10_000)
    cond.setup(PenaltySetup(iso.numpy(), 2, 2, pt.numpy()))
    ref = da.conditional_disco_loss(s, iso, pt, cond.edges, w, min_events=8)
    assert float(cond(b)) == float(ref)

    flat = make_penalty(
        "flat", thresholds=[0.3, 0.5], window=None, ema=None, integral=0.0, cut_space="score"
    )
    flat.setup(PenaltySetup(iso.numpy(), 2, 2, pt.numpy()))
    bins = da.FlatnessBins(flat.pt_edges, flat.iso_edges)
    assert float(flat(b)) == float(da.flatness_loss(s, iso, pt, bins, [0.3, 0.5], w, tau=0.02))

    torch.manual_seed(5)
    adv = make_penalty("adversarial", warmup_epochs=0)
    adv.setup(PenaltySetup(iso.numpy(), 2, 2))
    adv.on_epoch_start(0)
    assert float(adv(b)) == float(da.pivot_loss(adv.adversary, s, iso, adv.edges, w))

    torch.manual_seed(6)
    latent = torch.randn(len(s), 4)
    domain = (torch.arange(len(s)) % 2).long()
    frt = make_penalty("frt", recon_weight=0.0, max_mmd_events=10_000)
    frt.setup(PenaltySetup(iso.numpy(), 4, 2))
    frt_b = PenaltyInputs(s, iso, w, latent, torch.zeros(len(s), 2), domain, pt)
    assert float(frt(frt_b)) == float(da.mmd_loss(latent[domain == 0], latent[domain == 1]))

    label = (batch["rng"].uniform(size=len(s)) < 0.5).astype(np.int64)
    ddt = make_penalty("ddt", table_bins=0)  # the learned compensation's pinball
    events = TrainingEvents(label, np.zeros_like(label), iso.numpy(), pt.numpy())
    ddt.setup(PenaltySetup(iso.numpy(), 4, 2, pt.numpy(), events))
    ddt.eval()  # no running update of the fake rate
    task, comp = torch.logit(s.double()).float(), 0.1 * pt / 100
    lab = torch.from_numpy(label)
    full = FullBatch(task - comp, task, comp, latent, lab, domain, iso, pt)
    fakes = lab == 0
    ref = da.ddt_loss(task[fakes], comp[fakes], float(ddt.fake_rate))
    assert float(ddt(_inputs(batch, full=full))) == float(ref)


# --- signed weights: exact-cancelling pairs change nothing -----------------------------------


def test_exact_cancelling_pairs_leave_every_loss_unchanged(batch):
    c = _cancelling(batch)
    bins = da.fit_flatness_bins(batch["pt"], batch["iso"], 3, 4)
    edges = da.fit_edges(batch["pt"], 3)
    adversary = da.PivotAdversary(4)
    pe = da.fit_edges(batch["iso"], 4)
    cases = {
        "disco": lambda b: da.disco_loss(b["score"], b["iso"], b["w"]),
        "conditional_disco": lambda b: da.conditional_disco_loss(
            b["score"], b["iso"], b["pt"], edges, b["w"]
        ),
        "flatness": lambda b: da.flatness_loss(
            b["score"], b["iso"], b["pt"], bins, [0.3, 0.6], b["w"], min_events=1
        ),
        "flatness_eff": lambda b: da.flatness_loss(
            b["score"], b["iso"], b["pt"], bins, 0.4, b["w"], diff="eff", min_events=1
        ),
        "pivot": lambda b: da.pivot_loss(adversary, b["score"], b["iso"], pe, b["w"]),
        "ddt": lambda b: da.ddt_loss(b["score"], 0.01 * b["iso"], 0.1, b["w"]),
        "mmd": lambda b: da.mmd_loss(b["score"][:, None], b["iso"][:, None], b["w"], b["w"]),
        "edges": lambda b: da.fit_edges(b["pt"], 3, b["w"]).sum(),
        "working_point": lambda b: torch.tensor(da.fit_working_point(b["score"], 0.8, b["w"])),
    }
    for name, fn in cases.items():
        before, after = float(fn(batch)), float(fn(c))
        assert after == pytest.approx(before, rel=1e-5, abs=1e-7), name


def test_weighted_mmd_counts_integer_weights_as_repeats_and_cancels_pairs(batch):
    a, b = batch["score"][:60, None].double(), batch["iso"][:50, None].double()
    wa = torch.from_numpy(batch["rng"].integers(1, 4, 60)).double()
    wb = torch.ones(50, dtype=torch.float64)
    rep = torch.repeat_interleave(a, wa.long(), dim=0)
    weighted = float(da.mmd_loss(a, b, wa, wb))
    assert weighted > 0
    assert float(da.mmd_loss(rep, b, torch.ones(len(rep)), wb)) == pytest.approx(weighted, 1e-9)
    pair_a = torch.cat([a, a[:7], a[:7]])
    pair_w = torch.cat([wa, wa[:7], -wa[:7]])
    assert float(da.mmd_loss(pair_a, b, pair_w, wb)) == pytest.approx(weighted, rel=1e-9)


# --- misuse: one clear error per penalty, never a silent zero ---------------------------------


def test_misuse_raises_one_clear_error_per_penalty(batch):
    s, iso, pt, w = batch["score"], batch["iso"], batch["pt"], batch["w"]
    bins = da.fit_flatness_bins(pt, iso)
    adversary = da.PivotAdversary(3)
    cases = [
        (lambda: da.disco_loss(s, iso[:-1]), "lengths must match"),
        (lambda: da.disco_loss(s, iso, torch.zeros_like(w)), "sum to"),
        (lambda: da.disco_loss(s, None), "protected is required"),
        (lambda: da.conditional_disco_loss(s, iso, pt, None), "edges are required"),
        (
            lambda: da.conditional_disco_loss(s, iso, None, da.fit_edges(pt, 3)),
            "condition is required",
        ),
        (lambda: da.conditional_disco_loss(s, iso, pt[:5], da.fit_edges(pt, 3)), "lengths"),
        (lambda: da.flatness_loss(s, iso, pt, None, 0.5), "FlatnessBins"),
        (lambda: da.flatness_loss(s, iso, None, bins, 0.5), "condition is required"),
        (lambda: da.flatness_loss(s, iso, pt, bins, None), "working_point is required"),
        (lambda: da.flatness_loss(s, iso, pt, bins, 0.5, -w), "sum to"),
        (lambda: da.pivot_loss(adversary, s, iso, None), "edges"),
        (lambda: da.pivot_loss(adversary, s, iso, da.fit_edges(iso, 5)), "classes"),
        (
            lambda: da.adversary_step(
                adversary,
                torch.optim.Adam(adversary.parameters()),
                s,
                iso[:3],
                da.fit_edges(iso, 3),
            ),
            "lengths",
        ),
        (lambda: da.mmd_loss(s[:1, None], iso[:10, None]), "at least 2 events"),
        (lambda: da.mmd_loss(s[:10, None], torch.ones(10, 2)), "features"),
        (lambda: da.ddt_loss(s, torch.zeros(3), 0.1), "lengths"),
        (lambda: da.ddt_loss(s, torch.zeros_like(s), 1.5), "background_pass"),
        (lambda: da.fit_working_point(s, 0.0), "efficiency"),
        (lambda: da.disco_loss(torch.tensor([1.0, float("nan")]), torch.ones(2)), "NaN"),
    ]
    for call, needle in cases:
        with pytest.raises(DatrigError, match=needle):
            call()


def test_learned_ddt_trains_a_users_network_in_a_plain_loop(batch):
    """The wrapper in a user's loop: the compensation follows the background's working-point
    quantile, so the pass fraction of the background becomes flat in isolation."""
    torch.manual_seed(0)
    rng = batch["rng"]
    n = 4000
    label = torch.from_numpy((rng.uniform(size=n) < 0.5).astype(np.int64))
    iso = torch.from_numpy(rng.gamma(2.0, 1.0, n)).float()
    pt = torch.from_numpy(rng.uniform(10, 100, n)).float()
    feature = label.float() * 2 - 0.4 * iso + torch.randn(n)  # the score leans on isolation
    x = torch.stack([feature, pt / 100], dim=1)
    ddt = da.LearnedDDT(
        torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1)),
        background_pass=0.2,
    )
    opt = torch.optim.Adam(ddt.parameters(), lr=1e-2)
    bce = lambda score, y: torch.nn.functional.binary_cross_entropy_with_logits(  # noqa: E731
        score, y.float()
    )
    for _ in range(400):
        opt.zero_grad()
        ddt.loss(x, pt, iso, label, bce).backward()
        opt.step()
    with torch.no_grad():
        out = ddt(x, pt, iso)
    bkg = label == 0
    low, high = bkg & (iso < iso[bkg].median()), bkg & (iso >= iso[bkg].median())
    rates = [float((out[m] >= 0).float().mean()) for m in (low, high)]
    assert abs(rates[0] - 0.2) < 0.05 and abs(rates[1] - 0.2) < 0.05, rates
    with torch.no_grad():
        raw = ddt.score_net(x).reshape(-1)
    cut = torch.quantile(raw[bkg], 0.8)
    plain = [float((raw[m] >= cut).float().mean()) for m in (low, high)]
    assert abs(plain[0] - plain[1]) > 2 * abs(rates[0] - rates[1])  # the score alone is not flat
