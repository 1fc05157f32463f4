"""Task and decorrelation metrics of a run, per domain, for the float twin and quantized model.

Every figure comes from :mod:`datrig.metrics`, the definitions validation and scans use too.
For a photon ID (a model with a conditioning variable, pT), the primary decorrelation figures
do not depend on the score's shape: the ABCD factor per pT tercile, the working-point
flatness across isolation bins, rank dCor; ``dcor_sigmoid_*`` (the quantity DisCo minimises)
is kept as a labelled secondary figure. Working points and isolation regions are defined on the
sim domain and applied unchanged to data, as a physicist would.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

from datrig.metrics.classifier import jsd, roc, weighted_quantiles, working_point
from datrig.metrics.decorrelation import (
    AbcdRegions,
    distance_correlation,
    pt_binned_decorrelation,
    quantile_bin_edges,
    rank_distance_correlation,
)

MGG_BINS = np.linspace(105.0, 160.0, 23)  # GeV, 2.5 GeV bins over the diphoton window
N_PT_BINS = 3  # pT terciles of the sim fakes, as in the calibration
TOY_ISO_GAP = 2.0  # GeV between isolated and non-isolated for the toy's photon ID


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic function without overflow warnings for large negative logits."""
    return expit(np.asarray(x, np.float64))


def classification_metrics(
    logit: np.ndarray,
    events: np.ndarray,
    protected: tuple[str, ...],
    max_events: int,
    regions: AbcdRegions | None = None,
    pt_edges: np.ndarray | None = None,
    condition: str = "pt",
    weights: np.ndarray | None = None,
) -> dict[str, float]:
    """AUC, rejections, decorrelation from each protected variable among background events;
    with ``regions`` and ``pt_edges`` also the ABCD figures of ``protected[0]`` in bins of the
    ``condition``. ``weights``: event weights (signed) of every efficiency and count."""
    score = sigmoid(logit)
    label = events["label"]
    out: dict[str, float] = {"n_events": len(label)}
    known = label >= 0
    if len(np.unique(label[known])) < 2:
        return out
    if not known.all():  # unlabelled candidates (data without truth) have no figures
        return out
    _, _, out["auc"] = roc(score, label, weights)
    out["rejection_at_80"] = working_point(score, label, 0.8, weights).rejection
    wp50 = working_point(score, label, 0.5, weights)
    out["rejection_at_50"] = wp50.rejection
    bkg = label == 0
    for name in protected:
        values = events[name][bkg]
        out[f"rank_dcor_{name}_bkg"] = rank_distance_correlation(score[bkg], values)
        first = slice(0, max_events)  # the raw-score figure, on the first events (secondary)
        out[f"dcor_sigmoid_{name}_bkg"] = distance_correlation(score[bkg][first], values[first])
    if regions is not None and pt_edges is not None:
        figs = pt_binned_decorrelation(
            logit[bkg], events[protected[0]][bkg], events[condition][bkg], regions, pt_edges,
            weights=None if weights is None else weights[bkg],
        )  # fmt: skip
        out.update(figs.to_json())
    if "m_gg" in protected:
        m = events["m_gg"][bkg]
        passed = score[bkg] >= wp50.threshold
        h_pass, _ = np.histogram(m[passed], MGG_BINS)
        h_fail, _ = np.histogram(m[~passed], MGG_BINS)
        value = jsd(h_pass, h_fail)
        out["jsd_mgg_50"] = value
        out["inv_jsd_mgg_50"] = 1.0 / value if value > 0 else float("inf")
    return out


def regression_metrics(
    correction: np.ndarray,
    events: np.ndarray,
    columns: tuple[str, str] = ("e_true", "e_raw"),
    weights: np.ndarray | None = None,
) -> dict[str, float]:
    """Response E_pred/E_true: median and resolution IQR/2 (also of the raw energy);
    ``columns``: the (true, raw) columns; weighted quantiles with ``weights``."""
    true_col, raw_col = columns
    if true_col not in (events.dtype.names or ()):
        return {"n_events": len(events)}  # no truth (data): nothing to compare with
    e_true = events[true_col].astype(np.float64)
    response = correction * events[raw_col] / e_true
    raw = events[raw_col] / e_true
    qs = [0.25, 0.5, 0.75]
    if weights is None:
        q25, q50, q75 = np.quantile(response, qs)
        r25, r50, r75 = np.quantile(raw, qs)
    else:
        q25, q50, q75 = weighted_quantiles(response, qs, weights)
        r25, r50, r75 = weighted_quantiles(raw, qs, weights)
    return {
        "n_events": len(e_true),
        "median_response": float(q50),
        "iqr_half": float((q75 - q25) / 2),
        "raw_median_response": float(r50),
        "raw_iqr_half": float((r75 - r25) / 2),
    }


def abcd_gap(task: dict | None) -> float:
    """The gap between isolated and non-isolated of a run's ABCD figures: the toy's 2 GeV, or
    a task's calibration setting (0 when it gives none), in the protected variable's units."""
    if task is None:
        return TOY_ISO_GAP
    return float(task.get("calibration", {}).get("gap") or 0.0)


def sim_defined_regions(
    logit: np.ndarray,
    events: np.ndarray,
    protected: str,
    condition: str = "pt",
    weights: np.ndarray | None = None,
    iso_gap: float = TOY_ISO_GAP,
) -> tuple[AbcdRegions, np.ndarray] | None:
    """ID working point (80 % of sim photons), isolation cut (90 % of sim photons) and
    terciles of the condition (pT) among sim fakes, from the sim events of one output."""
    sim = events["domain"] == 0
    label = events["label"][sim]
    if not np.any(label == 1) or not np.any(label == 0):
        return None
    w = None if weights is None else weights[sim]
    regions = AbcdRegions.from_sim(
        logit[sim], label, events[protected][sim], iso_gap=iso_gap, weights=w
    )
    pt_edges = quantile_bin_edges(events[condition][sim][label == 0], N_PT_BINS)
    return regions, pt_edges


def run_metrics(
    task: str,
    protected: tuple[str, ...],
    outputs: dict[str, np.ndarray],
    events: np.ndarray,
    max_events: int,
    condition: str | None = None,
    weights: np.ndarray | None = None,
    iso_gap: float = TOY_ISO_GAP,
    regression: tuple[str, str] = ("e_true", "e_raw"),
) -> dict:
    """``{flavour: {domain: metrics}}`` plus sim-vs-data and float-vs-quant summaries;
    ``weights``: per-event weights (None: unit weights)."""
    result: dict = {}
    for flavour, out in outputs.items():
        result[flavour] = {}
        defined = None
        if task == "classification" and condition is not None and protected:
            defined = sim_defined_regions(out, events, protected[0], condition, weights, iso_gap)
        for dname, code in (("sim", 0), ("data", 1)):
            sel = events["domain"] == code
            if not sel.any():
                continue
            if task == "classification":
                regions, pt_edges = defined if defined else (None, None)
                result[flavour][dname] = classification_metrics(
                    out[sel], events[sel], protected, max_events, regions, pt_edges,
                    condition or "pt", None if weights is None else weights[sel],
                )  # fmt: skip
            else:
                result[flavour][dname] = regression_metrics(
                    out[sel], events[sel], regression, None if weights is None else weights[sel]
                )
    summary: dict[str, float] = {}
    for dname in ("sim", "data"):
        f, q = result.get("float", {}).get(dname, {}), result.get("quant", {}).get(dname, {})
        if "auc" in f and "auc" in q:
            summary[f"auc_quant_minus_float_{dname}"] = q["auc"] - f["auc"]
    for flavour in outputs:
        sim, data = result[flavour].get("sim", {}), result[flavour].get("data", {})
        if "median_response" in sim and "median_response" in data:
            summary[f"median_response_data_minus_sim_{flavour}"] = (
                data["median_response"] - sim["median_response"]
            )
            summary[f"iqr_half_data_minus_sim_{flavour}"] = data["iqr_half"] - sim["iqr_half"]
    result["summary"] = summary
    return result
