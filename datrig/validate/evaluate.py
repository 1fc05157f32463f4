"""Per-model figures of merit for one output column (float, Brevitas or firmware).

Each evaluator returns :class:`ColumnResult`: flat JSON-able ``metrics`` (names end in
``_sim`` / ``_data`` for the domain they were measured on) and ``curves`` (arrays for the
plots). Distance correlations use the classifier score sigmoid(logit), the quantity the
DisCo penalty decorrelates (dCor is not invariant under monotonic maps). The labels of the
``data`` domain are used here only because the toy stores them: that is how we measure what
a method would really do on data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.special import expit

from datrig.errors import DatrigError
from datrig.metrics import classifier as m
from datrig.metrics import decorrelation as dm
from datrig.train.predictions import RunPredictions
from datrig.validate.resolution import binned_response, response_summary

DOMAINS = {"sim": 0, "data": 1}
ID_EFFICIENCIES = (0.8, 0.9)  # photon ID working points (signal efficiency)
FLATNESS_EFFICIENCY = 0.8
N_ISO_BINS = 10  # equal-population isolation bins of the sim background
N_PT_BINS = 4  # equal-population pT bins of the background for dCor at fixed pT
N_PT_TERCILES = 3  # the calibration's pT bins (terciles of the sim fakes)
DIPHOTON_EFFICIENCY = 0.5  # the DisCo paper's working point
MGG_RANGE = (105.0, 160.0)  # GeV, the continuum background range of the toy
MGG_BINS = 55
MASS_WINDOW = (120.0, 130.0)  # GeV, around m_H = 125 GeV
E_EDGES = np.array([0.0, 20.0, 40.0, 60.0, 100.0, 200.0, 500.0, 1.0e4])  # GeV (E_true)
ETA_EDGES = np.array([0.0, 0.6, 1.0, 1.37, 1.52, 1.8, 2.37])  # |eta|
ROC_POINTS = 400
EXTRA_ISOLATION = ("iso_calo", "iso_track")  # dCor with each, besides the protected one


@dataclass
class ColumnResult:
    metrics: dict[str, Any] = field(default_factory=dict)  # numbers, plus binned_* dicts
    curves: dict[str, Any] = field(default_factory=dict)


def _thin_roc(tpr: np.ndarray, fpr: np.ndarray) -> dict[str, np.ndarray]:
    """Resample a ROC on a fixed signal-efficiency grid so plots stay small."""
    grid = np.linspace(0.0, 1.0, ROC_POINTS + 1)[1:]
    order = np.argsort(tpr, kind="stable")
    return {"eff_sig": grid, "eff_bkg": np.interp(grid, tpr[order], fpr[order])}


def _dcor_at_fixed(score: np.ndarray, protected: np.ndarray, by: np.ndarray, n_bins: int) -> float:
    """Mean dCor(score, protected) over equal-population bins of ``by``.

    Isolation grows with the jet pT, so a score can look decorrelated overall while staying
    correlated at every fixed pT (its pT dependence cancelling the isolation dependence); a
    sideband (ABCD) estimate done in pT bins sees this number, not the global one.
    """
    edges = dm.quantile_bin_edges(by, n_bins)
    idx = dm.bin_index(by, edges)
    values = [
        dm.distance_correlation(score[idx == k], protected[idx == k])
        for k in range(edges.size - 1)
        if np.count_nonzero(idx == k) >= 2
    ]
    return float(np.mean(values)) if values else float("nan")


def _sim_regions(
    preds: RunPredictions, score: np.ndarray
) -> tuple[dm.AbcdRegions, np.ndarray] | None:
    """ID working point, isolation cut and pT terciles, all from this column's sim events."""
    sim = preds.field("domain") == 0
    label = preds.field("label")[sim]
    if not ("pt" in (preds.events.dtype.names or ()) and np.any(label == 1)):
        return None
    regions = dm.AbcdRegions.from_sim(score[sim], label, preds.field(preds.protected)[sim])
    pt_edges = dm.quantile_bin_edges(preds.field("pt")[sim][label == 0], N_PT_TERCILES)
    return regions, pt_edges


def evaluate_photon_id(
    preds: RunPredictions, score: np.ndarray, cut_based: dict[float, m.WorkingPoint] | None = None
) -> ColumnResult:
    """ROC, rejection at 80/90 % signal efficiency; decorrelation from isolation among fakes
    where a calibration sees it (ABCD factor and flatness per pT tercile, rank dCor), plus the
    score-shape-dependent dCor of sigmoid(logit) as a secondary figure; domain AUC."""
    out = ColumnResult()
    label, domain = preds.field("label"), preds.field("domain")
    iso = preds.field(preds.protected)
    defined = _sim_regions(preds, score)
    for dname, dval in DOMAINS.items():
        sel = domain == dval
        if not np.any(sel):
            continue
        s, y = score[sel], label[sel]
        tpr, fpr, auc = m.roc(s, y)
        out.metrics[f"auc_{dname}"] = auc
        out.curves[f"roc_{dname}"] = _thin_roc(tpr, fpr)
        for eff in ID_EFFICIENCIES:
            wp = m.working_point(s, y, eff)
            out.metrics[f"rejection{round(eff * 100)}_{dname}"] = wp.rejection
        bkg = y == 0
        bkg_score = expit(s[bkg])
        out.metrics[f"rank_dcor_bkg_{dname}"] = dm.rank_distance_correlation(s[bkg], iso[sel][bkg])
        out.metrics[f"dcor_sigmoid_bkg_{dname}"] = dm.distance_correlation(bkg_score, iso[sel][bkg])
        if defined is not None:
            regions, pt_edges = defined
            pt_bkg = preds.field("pt")[sel][bkg]
            out.metrics[f"dcor_sigmoid_bkg_ptbinned_{dname}"] = _dcor_at_fixed(
                bkg_score, iso[sel][bkg], pt_bkg, N_PT_BINS
            )
            figs = dm.pt_binned_decorrelation(s[bkg], iso[sel][bkg], pt_bkg, regions, pt_edges)
            out.metrics.update(figs.to_json(f"_{dname}"))
            out.curves[f"abcd_r_{dname}"] = {
                "edges": pt_edges, "r": figs.abcd_r, "err": figs.abcd_r_err,
            }  # fmt: skip
        for extra in EXTRA_ISOLATION:
            if extra != preds.protected and extra in (preds.events.dtype.names or ()):
                out.metrics[f"rank_dcor_bkg_{extra}_{dname}"] = dm.rank_distance_correlation(
                    s[bkg], preds.field(extra)[sel][bkg]
                )
        wp = m.working_point(s, y, FLATNESS_EFFICIENCY)
        edges = dm.quantile_bin_edges(iso[sel][bkg], N_ISO_BINS)
        eff_bins, err = dm.binned_efficiency(s[bkg] >= wp.threshold, iso[sel][bkg], edges)
        flat = dm.flatness(eff_bins)
        out.metrics[f"flatness_std_over_mean_{dname}"] = flat["std_over_mean"]
        out.metrics[f"flatness_max_over_min_{dname}"] = flat["max_over_min"]
        out.curves[f"bkg_eff_vs_iso_{dname}"] = {"edges": edges, "eff": eff_bins, "err": err}
        out.metrics[f"binned_bkg_eff_vs_{preds.protected}_{dname}"] = {
            "edges": edges.tolist(),
            "eff": eff_bins.tolist(),
        }
        out.curves[f"score_{dname}"] = {"signal": s[y == 1], "background": s[bkg]}
        if dname == "sim" and cut_based:
            for eff, base in cut_based.items():
                gain = m.efficiency_gain(s, y, base)
                out.metrics[f"gain{round(eff * 100)}_vs_cuts_sim"] = gain["gain"]
    if np.unique(domain).size == 2:
        out.metrics["domain_auc"] = m.domain_auc(score, domain)
    return out


def evaluate_energy(preds: RunPredictions, e_pred: np.ndarray) -> ColumnResult:
    """Median response and IQR/2 resolution of E_pred/E_true per domain, vs E_true and |eta|."""
    out = ColumnResult()
    e_true = preds.field("e_true").astype(np.float64)
    if np.any(e_true <= 0):
        raise DatrigError("e_true must be positive to compute the energy response")
    ratio = np.asarray(e_pred, dtype=np.float64) / e_true
    domain, abs_eta = preds.field("domain"), np.abs(preds.field("eta"))
    for dname, dval in DOMAINS.items():
        sel = domain == dval
        if not np.any(sel):
            continue
        summary = response_summary(ratio[sel])
        for key in ("response", "resolution", "resolution_rel"):
            out.metrics[f"{key}_{dname}"] = summary[key]
        out.curves[f"vs_e_{dname}"] = binned_response(ratio[sel], e_true[sel], E_EDGES)
        out.curves[f"vs_eta_{dname}"] = binned_response(ratio[sel], abs_eta[sel], ETA_EDGES)
        out.metrics[f"binned_vs_e_true_{dname}"] = out.curves[f"vs_e_{dname}"]
        out.metrics[f"binned_vs_abs_eta_{dname}"] = out.curves[f"vs_eta_{dname}"]
        out.curves[f"ratio_{dname}"] = ratio[sel]
    if "response_data" in out.metrics and "response_sim" in out.metrics:
        for key in ("response", "resolution"):
            out.metrics[f"{key}_shift"] = out.metrics[f"{key}_data"] - out.metrics[f"{key}_sim"]
        # on E_pred itself (no truth): the quantity the energy DA penalty makes domain-blind
        out.metrics["domain_auc"] = m.domain_auc(np.asarray(e_pred, dtype=np.float64), domain)
    return out


def evaluate_diphoton(preds: RunPredictions, score: np.ndarray) -> ColumnResult:
    """Rejection at 50 % signal efficiency, 1/JSD of background m_gg pass vs fail, Z in window.

    Significance uses unweighted test-sample counts s, b in the mass window after the cut.
    """
    out = ColumnResult()
    label, domain, mgg = preds.field("label"), preds.field("domain"), preds.field("m_gg")
    bins = np.linspace(*MGG_RANGE, MGG_BINS + 1)
    for dname, dval in DOMAINS.items():
        sel = domain == dval
        if not np.any(sel):
            continue
        s, y, mass = score[sel], label[sel], mgg[sel]
        tpr, fpr, auc = m.roc(s, y)
        out.metrics[f"auc_{dname}"] = auc
        out.curves[f"roc_{dname}"] = _thin_roc(tpr, fpr)
        wp = m.working_point(s, y, DIPHOTON_EFFICIENCY)
        out.metrics[f"rejection50_{dname}"] = wp.rejection
        bkg = y == 0
        passed = s >= wp.threshold
        h_pass, _ = np.histogram(mass[bkg & passed], bins=bins)
        h_fail, _ = np.histogram(mass[bkg & ~passed], bins=bins)
        jsd = m.jsd(h_pass, h_fail)
        out.metrics[f"n_bkg_pass50_{dname}"] = int(h_pass.sum())  # JSD is noisy when small
        out.metrics[f"jsd50_{dname}"] = jsd
        out.metrics[f"inv_jsd50_{dname}"] = 1.0 / jsd if jsd > 0 else float("inf")
        out.metrics[f"dcor_bkg_{dname}"] = dm.distance_correlation(expit(s[bkg]), mass[bkg])
        window = (mass >= MASS_WINDOW[0]) & (mass < MASS_WINDOW[1])
        n_s, n_b = np.sum(window & (y == 1)), np.sum(window & bkg)
        out.metrics[f"z_nocut_{dname}"] = m.asimov_significance(float(n_s), float(n_b))
        n_s, n_b = np.sum(window & passed & (y == 1)), np.sum(window & passed & bkg)
        out.metrics[f"z50_{dname}"] = m.asimov_significance(float(n_s), float(n_b))
        out.metrics[f"s50_window_{dname}"] = int(n_s)
        out.metrics[f"b50_window_{dname}"] = int(n_b)
        out.curves[f"mgg_{dname}"] = {
            "edges": bins,
            "all": h_pass + h_fail,
            "pass": h_pass,
            "fail": h_fail,
        }
        out.curves[f"score_{dname}"] = {"signal": s[y == 1], "background": s[bkg]}
    if np.unique(domain).size == 2:
        out.metrics["domain_auc"] = m.domain_auc(score, domain)
    return out


def family(preds: RunPredictions) -> str:
    """Which figures of merit apply: the model's own ``family`` in the registry; a model that
    is not registered (predictions of a user's run) by its task and protected variable."""
    from datrig.models.registry import MODELS

    if preds.model in MODELS:
        return MODELS[preds.model].family
    if preds.task == "regression":
        return "energy"
    return "diphoton" if preds.protected == "m_gg" else "photon_id"


def physical_output(preds: RunPredictions, output: np.ndarray) -> np.ndarray:
    """The quantity the metrics use: the logit as is, or E_pred = e_raw * correction [GeV]."""
    if preds.output_kind == "energy_correction":
        return preds.field("e_raw").astype(np.float64) * output
    return np.asarray(output, dtype=np.float64)


Evaluator = Callable[..., ColumnResult]
EVALUATORS: dict[str, Evaluator] = {
    "photon_id": evaluate_photon_id,
    "energy": evaluate_energy,
    "diphoton": evaluate_diphoton,
}
