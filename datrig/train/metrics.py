"""Task and decorrelation metrics of a run, per domain, for the float twin and quantized model.

All metrics are deterministic: distance correlations use the first ``max_events`` selected
events (rows are i.i.d.), computed in float64 with datrig's DisCo implementation.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit
from sklearn.metrics import roc_auc_score

MGG_BINS = np.linspace(105.0, 160.0, 23)  # GeV, 2.5 GeV bins over the diphoton window


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic function without overflow warnings for large negative logits."""
    return expit(np.asarray(x, np.float64))


def dcor(x: np.ndarray, y: np.ndarray, max_events: int, chunk: int = 1024) -> float:
    """Unweighted dCor of the first ``max_events`` pairs, float64.

    Row-chunked so memory is O(chunk * n) instead of the O(n^2) of the training penalty
    (10k events would need ~3 GB as full matrices); agrees with :mod:`datrig.da.disco`.
    """
    n = min(len(x), max_events)
    if n < 3:
        return float("nan")
    x = np.asarray(x[:n], np.float64)
    y = np.asarray(y[:n], np.float64)
    blocks = [slice(i, min(i + chunk, n)) for i in range(0, n, chunk)]
    row_a = np.concatenate([np.abs(x[s, None] - x[None, :]).mean(axis=1) for s in blocks])
    row_b = np.concatenate([np.abs(y[s, None] - y[None, :]).mean(axis=1) for s in blocks])
    ga, gb = row_a.mean(), row_b.mean()
    ab = aa = bb = 0.0
    for s in blocks:
        a = np.abs(x[s, None] - x[None, :]) - row_a[s, None] - row_a[None, :] + ga
        b = np.abs(y[s, None] - y[None, :]) - row_b[s, None] - row_b[None, :] + gb
        ab += float(np.sum(a * b))
        aa += float(np.sum(a * a))
        bb += float(np.sum(b * b))
    if aa <= 0 or bb <= 0:
        return 0.0
    return float(np.sqrt(max(ab, 0.0) / np.sqrt(aa * bb)))


def rejection_at(score: np.ndarray, label: np.ndarray, sig_eff: float) -> tuple[float, float]:
    """(1/eps_bkg, cut) for the cut on ``score`` keeping ``sig_eff`` of the signal."""
    cut = float(np.quantile(score[label == 1], 1.0 - sig_eff))
    eps_bkg = float(np.mean(score[label == 0] > cut))
    return (1.0 / eps_bkg if eps_bkg > 0 else float("inf")), cut


def jsd(p_counts: np.ndarray, q_counts: np.ndarray) -> float:
    """Jensen-Shannon divergence (base 2, in [0, 1]) between two histograms."""
    p = p_counts / max(p_counts.sum(), 1)
    q = q_counts / max(q_counts.sum(), 1)
    m = 0.5 * (p + q)

    def kl(a: np.ndarray) -> float:
        nz = a > 0
        return float(np.sum(a[nz] * np.log2(a[nz] / m[nz])))

    return 0.5 * kl(p) + 0.5 * kl(q)


def classification_metrics(
    logit: np.ndarray, events: np.ndarray, protected: tuple[str, ...], max_events: int
) -> dict[str, float]:
    score = sigmoid(logit)
    label = events["label"]
    out: dict[str, float] = {"n_events": len(label)}
    if len(np.unique(label)) < 2:
        return out
    out["auc"] = float(roc_auc_score(label, score))
    out["rejection_at_80"], _ = rejection_at(score, label, 0.8)
    rej50, cut50 = rejection_at(score, label, 0.5)
    out["rejection_at_50"] = rej50
    bkg = label == 0
    for name in protected:
        out[f"dcor_{name}_bkg"] = dcor(score[bkg], events[name][bkg], max_events)
    if "m_gg" in protected:
        m = events["m_gg"][bkg]
        passed = score[bkg] > cut50
        h_pass, _ = np.histogram(m[passed], MGG_BINS)
        h_fail, _ = np.histogram(m[~passed], MGG_BINS)
        value = jsd(h_pass.astype(np.float64), h_fail.astype(np.float64))
        out["jsd_mgg_50"] = value
        out["inv_jsd_mgg_50"] = 1.0 / value if value > 0 else float("inf")
    return out


def regression_metrics(correction: np.ndarray, events: np.ndarray) -> dict[str, float]:
    """Response E_pred/E_true: median and resolution IQR/2 (also of the raw energy)."""
    e_true = events["e_true"].astype(np.float64)
    response = correction * events["e_raw"] / e_true
    raw = events["e_raw"] / e_true
    q25, q50, q75 = np.quantile(response, [0.25, 0.5, 0.75])
    r25, r50, r75 = np.quantile(raw, [0.25, 0.5, 0.75])
    return {
        "n_events": len(e_true),
        "median_response": float(q50),
        "iqr_half": float((q75 - q25) / 2),
        "raw_median_response": float(r50),
        "raw_iqr_half": float((r75 - r25) / 2),
    }


def run_metrics(
    task: str,
    protected: tuple[str, ...],
    outputs: dict[str, np.ndarray],
    events: np.ndarray,
    max_events: int,
) -> dict:
    """``{flavour: {domain: metrics}}`` plus sim-vs-data and float-vs-quant summaries."""
    result: dict = {}
    for flavour, out in outputs.items():
        result[flavour] = {}
        for dname, code in (("sim", 0), ("data", 1)):
            sel = events["domain"] == code
            if not sel.any():
                continue
            if task == "classification":
                result[flavour][dname] = classification_metrics(
                    out[sel], events[sel], protected, max_events
                )
            else:
                result[flavour][dname] = regression_metrics(out[sel], events[sel])
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
