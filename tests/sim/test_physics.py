"""The toy contains the problems domain adaptation exists to solve (issue 2, items 1-3).

Every check uses real statistics on a freshly simulated sample; the printed numbers are the
measured values (run with -s to see them).
"""

from __future__ import annotations

import itertools

import dcor
import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.metrics import roc_auc_score

from datrig.data.reader import read_columns
from datrig.data.schema import SHOWER_SHAPES
from datrig.sim.config import GeneratorConfig

HALF = 0.5


def _matrix(cols: dict[str, np.ndarray], names) -> np.ndarray:
    return np.stack([cols[n].astype(np.float64) for n in names], axis=1)


def _fit_classifier(x: np.ndarray, y: np.ndarray, seed: int = 0) -> HistGradientBoostingClassifier:
    clf = HistGradientBoostingClassifier(max_iter=120, learning_rate=0.1, random_state=seed)
    return clf.fit(x, y)


def test_isolation_problem_is_real(toy_dir):
    """(1) A shower-shape ID trained on sim is correlated with iso_calo among fakes."""
    cols = read_columns(toy_dir / "photons_sim.h5", [*SHOWER_SHAPES, "iso_calo", "label"])
    x, y = _matrix(cols, SHOWER_SHAPES), cols["label"]
    n = len(y)
    tr = np.arange(n) < n * HALF
    clf = _fit_classifier(x[tr], y[tr])
    te_fake = ~tr & (y == 0)
    score = clf.predict_proba(x[te_fake])[:, 1]
    iso = cols["iso_calo"][te_fake].astype(np.float64)
    auc = roc_auc_score(y[~tr], clf.predict_proba(x[~tr])[:, 1])
    k = min(5000, len(score))
    dc = dcor.distance_correlation(score[:k], iso[:k])
    print(f"photon-ID AUC {auc:.3f}; dCor(score, iso_calo | fakes) = {dc:.3f}")
    assert auc > 0.8, f"shower shapes should separate photons from fakes, AUC {auc:.3f}"
    assert dc >= 0.1


# Shower shapes that do not depend on the jet's fragmentation z at fixed candidate pT: the strip
# variables resolving the leading meson's gamma gamma pair plus the middle-layer core widths.
Z_INDEPENDENT = ("Reta", "Rphi", "weta2", "ws3", "wstot", "Eratio", "DeltaE", "fside", "f1", "eta")
N_PT_BINS = 20


def _rejection_at_80(y: np.ndarray, score: np.ndarray) -> float:
    """1 / (fake efficiency) of the cut keeping 80 % of the prompt photons."""
    cut = np.quantile(score[y == 1], 0.2)
    return float(1.0 / np.mean(score[y == 0] > cut))


def _flatten_in_pt(score: np.ndarray, pt: np.ndarray, y: np.ndarray, train: np.ndarray):
    """Map each score to the training fakes' score CDF in its pT bin, so the fake score
    distribution no longer depends on pT: the decorrelation a penalised network with pT as an
    input can learn (the strips' pi0 resolution falls like 1/pT and the jet's isolation grows
    like pT, so an un-flattened strip score is isolation-correlated through pT alone)."""
    ref = train & (y == 0)
    edges = np.quantile(pt[ref], np.linspace(0.0, 1.0, N_PT_BINS + 1))[1:-1]
    bins = np.digitize(pt, edges)
    out = np.empty_like(score)
    for b in range(N_PT_BINS):
        cdf = np.sort(score[ref & (bins == b)])
        out[bins == b] = np.searchsorted(cdf, score[bins == b]) / len(cdf)
    return out


def test_strips_carry_the_isolation_independent_discrimination(toy_dir):
    """Photon ID can be decorrelated from isolation at small cost (the premise of issue 3).

    (a) all shapes + pT, eta: the score is isolation-correlated among fakes (dCor >= 0.1);
    (b) the z-independent shapes + pT, flattened in pT: most of the rejection at 80 % signal
    efficiency is kept at a fraction of (a)'s distance correlation. Measured (3 seeds, 60k):
    R_b ~ 0.54 R_a at dCor_b ~ 0.3 dCor_a; the old toy (strips weak) had R_b ~ 0.3 R_a. The
    ceiling is physical: pi0 pairs split mostly in phi are invisible in the 0.1-wide strips.
    """
    names = [*SHOWER_SHAPES, "pt", "eta", "iso_calo", "label"]
    cols = read_columns(toy_dir / "photons_sim.h5", names)
    y = cols["label"].astype(int)
    tr = np.arange(len(y)) < len(y) * HALF
    te_fake = ~tr & (y == 0)
    iso = cols["iso_calo"][te_fake][:5000].astype(np.float64)
    res = {}
    for name, feats in (("a", [*SHOWER_SHAPES, "pt", "eta"]), ("b", [*Z_INDEPENDENT, "pt"])):
        x = _matrix(cols, feats)
        score = _fit_classifier(x[tr], y[tr]).predict_proba(x)[:, 1]
        if name == "b":
            score = _flatten_in_pt(score, cols["pt"].astype(np.float64), y, tr)
        rej = _rejection_at_80(y[~tr], score[~tr])
        res[name] = rej, dcor.distance_correlation(score[te_fake][:5000], iso)
    (rej_a, dc_a), (rej_b, dc_b) = res["a"], res["b"]
    print(
        f"(a) all shapes: R80 {rej_a:.1f}, dCor {dc_a:.3f}; (b) z-independent, pT-flat: "
        f"R80 {rej_b:.1f} ({rej_b / rej_a:.2f} x), dCor {dc_b:.3f} ({dc_b / dc_a:.2f} x)"
    )
    assert dc_a >= 0.1
    assert dc_b <= 0.6 * dc_a, "the z-independent score should be nearly isolation-free"
    assert rej_b >= 0.5 * rej_a, "the strips should carry most of the rejection"


def test_mismodelling_real_but_subtle(toy_dir):
    """(2) sim vs data: shapes separate them somewhat, kinematics do not."""
    kin = ["pt", "eta", "phi"]
    a = read_columns(toy_dir / "photons_sim.h5", [*SHOWER_SHAPES, *kin])
    b = read_columns(toy_dir / "photons_data.h5", [*SHOWER_SHAPES, *kin])
    aucs = {}
    for name, feats in (("shapes", SHOWER_SHAPES), ("kinematics", kin)):
        x = np.concatenate([_matrix(a, feats), _matrix(b, feats)])
        d = np.concatenate([np.zeros(len(a["pt"])), np.ones(len(b["pt"]))])
        order = np.random.default_rng(0).permutation(len(d))
        x, d = x[order], d[order]
        tr = np.arange(len(d)) < len(d) * HALF
        clf = _fit_classifier(x[tr], d[tr])
        aucs[name] = roc_auc_score(d[~tr], clf.predict_proba(x[~tr])[:, 1])
    print(f"sim-vs-data AUC: shapes {aucs['shapes']:.3f}, kinematics {aucs['kinematics']:.3f}")
    assert 0.55 <= aucs["shapes"] <= 0.80
    assert abs(aucs["kinematics"] - 0.5) < 0.03


def _photons(toy_dir, extra=()):
    names = ["e_true", "e_raw", "e_ps", "e_l1", "e_l2", "e_l3", "e_had", "eta", "label", *extra]
    cols = read_columns(toy_dir / "photons_sim.h5", names)
    keep = cols["label"] == 1
    return {k: v[keep].astype(np.float64) for k, v in cols.items()}


def test_raw_energy_undermeasures_with_eta_and_energy_dependence(toy_dir):
    """(3a) Upstream material and leakage: the raw response is < 1 and depends on eta and E."""
    c = _photons(toy_dir)
    r = c["e_raw"] / c["e_true"]
    ae = np.abs(c["eta"])
    central, forward = np.median(r[ae < 0.6]), np.median(r[ae > 1.6])
    e = c["e_true"]
    low, high = np.median(r[(e < 50) & (ae < 0.8)]), np.median(r[(e > 150) & (ae < 0.8)])
    print(
        f"median response: |eta|<0.6 {central:.4f}, |eta|>1.6 {forward:.4f}; "
        f"E<50 {low:.4f}, E>150 {high:.4f} (|eta|<0.8)"
    )
    assert central < 0.99 and forward < 0.99
    assert central - forward > 0.01
    assert abs(high - low) > 0.003


def _iqr_over_median(x: np.ndarray) -> float:
    q25, q50, q75 = np.percentile(x, [25, 50, 75])
    return float((q75 - q25) / 2 / q50)


def test_regression_beats_scale_correction(toy_dir):
    """(3b) A regression on layer energies + shapes recovers the loss a single scale cannot."""
    c = _photons(toy_dir, SHOWER_SHAPES)
    feats = ["e_raw", "e_ps", "e_l1", "e_l2", "e_l3", "e_had", "eta", *SHOWER_SHAPES]
    x = _matrix(c, feats)
    target = c["e_true"] / c["e_raw"]
    n = len(target)
    tr = np.arange(n) < n * HALF
    reg = HistGradientBoostingRegressor(max_iter=200, random_state=0, loss="absolute_error")
    reg.fit(x[tr], target[tr])
    e_pred = c["e_raw"][~tr] * reg.predict(x[~tr])
    scale = np.median(target[tr])
    res_reg = _iqr_over_median(e_pred / c["e_true"][~tr])
    res_scale = _iqr_over_median(scale * c["e_raw"][~tr] / c["e_true"][~tr])
    print(f"IQR/2/median: single scale {res_scale:.4f}, regression {res_reg:.4f}")
    assert res_reg < 0.85 * res_scale


def _cluster_noise_gev() -> float:
    """Expected electronic + pile-up noise of the cluster at <mu> = 35 [GeV]: the b term."""
    det = GeneratorConfig().detector
    per_cell = [
        (24, det.noise_strips),
        (21, det.noise_middle),
        (9, det.noise_back),
        (1, det.noise_ps),
    ]
    electronic = np.sqrt(sum(n * sigma**2 for n, sigma in per_cell))
    return float(electronic * (1.0 + det.pileup_noise_per_sqrt_mu))


def test_stochastic_term(toy_dir):
    """(3c) sigma/E of the raw energy ~ a/sqrt(E) (+) b/E (+) c with a around 10 %.

    Unconverted barrel photons (as ATLAS quotes it); b is fixed to the known cluster noise
    because a free b is degenerate with a over one decade of energy.
    """
    from scipy.optimize import curve_fit

    c = _photons(toy_dir, ["converted"])
    sel = (np.abs(c["eta"]) < 1.37) & (c["converted"] == 0)
    e, r = c["e_true"][sel], (c["e_raw"] / c["e_true"])[sel]
    edges = np.quantile(e, np.linspace(0, 1, 13))
    centres, widths, errors = [], [], []
    for lo, hi in itertools.pairwise(edges):
        in_bin = (e >= lo) & (e < hi)
        q16, q50, q84 = np.percentile(r[in_bin], [16, 50, 84])
        widths.append((q84 - q16) / 2 / q50)
        errors.append(widths[-1] / np.sqrt(2 * in_bin.sum()))
        centres.append(np.median(e[in_bin]))
    b = _cluster_noise_gev()

    def model(energy, a, cc):
        return np.sqrt(a**2 / energy + b**2 / energy**2 + cc**2)

    (a, cc), _ = curve_fit(
        model,
        np.array(centres),
        np.array(widths),
        p0=(0.1, 0.01),
        sigma=np.array(errors),
        bounds=(0, 1.0),
    )
    print(f"resolution fit: a = {a:.3f} sqrt(GeV), b = {b:.3f} GeV (fixed), c = {cc:.4f}")
    assert 0.07 <= a <= 0.2
    assert cc < 0.03


@pytest.mark.parametrize("field", ["Rhad", "Reta", "weta2", "wstot", "Eratio", "iso_calo"])
def test_photons_and_fakes_differ_in_the_physical_direction(toy_dir, field):
    """Fakes are wider, leakier and less isolated than prompt photons (median comparison)."""
    cols = read_columns(toy_dir / "photons_sim.h5", [field, "label"])
    sig = np.median(cols[field][cols["label"] == 1])
    bkg = np.median(cols[field][cols["label"] == 0])
    if field in ("Reta", "Eratio"):
        assert sig > bkg
    else:
        assert bkg > sig


def test_data_knobs_move_the_right_way(toy_dir):
    """data = sim with wider middle-layer showers, more material and more pile-up."""
    names = ["weta2", "Reta", "e_raw", "e_true", "mu", "Rhad", "label"]
    sim = read_columns(toy_dir / "photons_sim.h5", names)
    data = read_columns(toy_dir / "photons_data.h5", names)

    def med(cols, field, lab=1):
        return float(np.median(cols[field][cols["label"] == lab]))

    assert med(data, "weta2") > med(sim, "weta2")
    assert med(data, "Reta") < med(sim, "Reta")
    assert med(data, "Rhad") > med(sim, "Rhad")
    assert data["mu"].mean() > sim["mu"].mean() + 2.0
    resp = {
        k: np.median((c["e_raw"] / c["e_true"])[c["label"] == 1])
        for k, c in (("sim", sim), ("data", data))
    }
    assert resp["data"] < resp["sim"]
