"""Classifier figures of merit: ROC, working points, rejection, mass-sculpting JSD, significance.

Conventions (the same everywhere in the report):

* A candidate *passes* a working point when ``score >= threshold``.
* The threshold for a target signal efficiency ``eff`` is the signal score ranked
  ``ceil(eff * n_sig)`` in descending order, so the achieved signal efficiency is the smallest
  one >= ``eff`` (exactly ``eff`` up to one event, barring ties).
* Background rejection is ``1 / eps_bkg`` at that threshold; ``inf`` when no background passes
  (written to JSON as ``null``).
* Events count with their weights where given (signed generator weights: every efficiency is
  a ratio of weight sums, so an exact +w/-w pair of identical events changes nothing), else
  with unit weight.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.spatial.distance import jensenshannon
from sklearn.metrics import roc_auc_score, roc_curve

from datrig.errors import DatrigError


@dataclass(frozen=True)
class WorkingPoint:
    """A score threshold with the signal and background efficiencies it gives."""

    threshold: float
    eff_sig: float
    eff_bkg: float

    @property
    def rejection(self) -> float:
        return math.inf if self.eff_bkg == 0 else 1.0 / self.eff_bkg


def _split(score: np.ndarray, label: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    score = np.asarray(score, dtype=np.float64)
    label = np.asarray(label)
    if score.shape != label.shape:
        raise DatrigError(f"score shape {score.shape} does not match label shape {label.shape}")
    if not np.all(np.isfinite(score)):
        bad = int(np.count_nonzero(~np.isfinite(score)))
        raise DatrigError(f"{bad} scores are NaN or infinite; check the model outputs")
    sig, bkg = score[label == 1], score[label == 0]
    if sig.size == 0 or bkg.size == 0:
        raise DatrigError(
            f"need both signal and background events (have {sig.size} signal, {bkg.size} bkg)"
        )
    return sig, bkg


def roc(
    score: np.ndarray, label: np.ndarray, weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, float]:
    """ROC curve as (signal efficiency, background efficiency, AUC); sklearn underneath."""
    _split(score, label)
    y, s = np.asarray(label) == 1, np.asarray(score, dtype=np.float64)
    if weights is None:
        fpr, tpr, _ = roc_curve(y, s)
        return tpr, fpr, float(roc_auc_score(y, s))
    w = np.asarray(weights, dtype=np.float64)
    fpr, tpr, _ = roc_curve(y, s, sample_weight=w)
    return tpr, fpr, float(np.trapezoid(tpr, fpr))


def threshold_at_efficiency(sig_score: np.ndarray, eff: float) -> float:
    """Score threshold giving signal efficiency ``eff`` (see module docstring for the rule)."""
    if not 0.0 < eff <= 1.0:
        raise DatrigError(f"signal efficiency must be in (0, 1], got {eff}")
    ordered = np.sort(np.asarray(sig_score, dtype=np.float64))[::-1]
    rank = math.ceil(eff * ordered.size - 1e-9)  # tolerance: 0.8 * 10 must give 8, not 9
    return float(ordered[max(rank, 1) - 1])


def weighted_threshold(sig_score: np.ndarray, eff: float, weights: np.ndarray) -> float:
    """The weighted version of :func:`threshold_at_efficiency`: the highest threshold whose
    passing signal weight reaches ``eff`` of the total."""
    if not 0.0 < eff <= 1.0:
        raise DatrigError(f"signal efficiency must be in (0, 1], got {eff}")
    s, w = np.asarray(sig_score, np.float64), np.asarray(weights, np.float64)
    values, cum = _tied_cumsum(-s, w)
    total = cum[-1]
    if not total > 0:
        raise DatrigError("the signal weights sum to zero or less: no working point exists")
    return float(-values[_first_reaching(cum, eff * total * (1 - 1e-12))])


def _tied_cumsum(values: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct values in increasing order and the cumulative weight up to each: events
    with equal values enter together, so a +w/-w pair never moves a quantile."""
    distinct, inverse = np.unique(values, return_inverse=True)
    return distinct, np.cumsum(np.bincount(inverse, weights=weights, minlength=len(distinct)))


def _first_reaching(cum: np.ndarray, target: float) -> int:
    """Index of the first cumulative weight >= target (signed weights: the sum need not be
    monotonic); the last one if none reaches it."""
    hit = np.flatnonzero(cum >= target)
    return int(hit[0]) if hit.size else len(cum) - 1


def working_point(
    score: np.ndarray, label: np.ndarray, eff: float, weights: np.ndarray | None = None
) -> WorkingPoint:
    sig, bkg = _split(score, label)
    if weights is None:
        thr = threshold_at_efficiency(sig, eff)
        return WorkingPoint(thr, float(np.mean(sig >= thr)), float(np.mean(bkg >= thr)))
    w = np.asarray(weights, np.float64)
    label = np.asarray(label)
    w_sig, w_bkg = w[label == 1], w[label == 0]
    thr = weighted_threshold(sig, eff, w_sig)
    if not w_bkg.sum() > 0:
        raise DatrigError("the background weights sum to zero or less")
    return WorkingPoint(
        thr,
        float(np.sum(w_sig * (sig >= thr)) / np.sum(w_sig)),
        float(np.sum(w_bkg * (bkg >= thr)) / np.sum(w_bkg)),
    )


def efficiency_at_bkg_efficiency(score: np.ndarray, label: np.ndarray, eff_bkg: float) -> float:
    """Signal efficiency of the ROC curve at background efficiency ``eff_bkg`` (linear interp)."""
    tpr, fpr, _ = roc(score, label)
    return float(np.interp(eff_bkg, fpr, tpr))


def efficiency_gain(
    score: np.ndarray, label: np.ndarray, baseline: WorkingPoint
) -> dict[str, float]:
    """Signal efficiency the score reaches at the baseline's background efficiency.

    ``gain`` is relative: ``eff_sig(score) / eff_sig(baseline) - 1`` at equal rejection.
    """
    eff = efficiency_at_bkg_efficiency(score, label, baseline.eff_bkg)
    return {
        "eff_sig_at_baseline_rejection": eff,
        "baseline_eff_sig": baseline.eff_sig,
        "gain": eff / baseline.eff_sig - 1.0 if baseline.eff_sig > 0 else math.nan,
    }


def jsd(p_counts: np.ndarray, q_counts: np.ndarray) -> float:
    """Jensen-Shannon divergence (base 2, in [0, 1]) of two histograms, normalised first.

    scipy's ``jensenshannon`` returns the JS *distance* (the square root): we square it.
    """
    p = np.asarray(p_counts, dtype=np.float64)
    q = np.asarray(q_counts, dtype=np.float64)
    if p.sum() <= 0 or q.sum() <= 0:
        raise DatrigError("JSD of an empty histogram is undefined: too few events pass or fail")
    return float(jensenshannon(p / p.sum(), q / q.sum(), base=2) ** 2)


def asimov_significance(s: float, b: float) -> float:
    """Median discovery significance Z = sqrt(2((s+b) ln(1+s/b) - s)) for counts s, b."""
    if b <= 0:
        return math.inf if s > 0 else 0.0
    return math.sqrt(max(2.0 * ((s + b) * math.log1p(s / b) - s), 0.0))


def domain_auc(score: np.ndarray, domain: np.ndarray) -> float:
    """How well the score alone tells sim (0) from data (1): symmetrised AUC max(a, 1-a).

    0.5 means the score distributions of the two domains are indistinguishable.
    """
    domain = np.asarray(domain)
    if np.unique(domain).size < 2:
        raise DatrigError("domain-classifier AUC needs events of both domains (sim and data)")
    auc = float(roc_auc_score(domain == 1, np.asarray(score, dtype=np.float64)))
    return max(auc, 1.0 - auc)


def weighted_quantiles(values: np.ndarray, qs: list[float], weights: np.ndarray) -> list[float]:
    """Quantiles of ``values`` with (signed) weights: the smallest value whose cumulative
    weight reaches each fraction ``q`` of the total."""
    distinct, cum = _tied_cumsum(np.asarray(values, np.float64), np.asarray(weights, np.float64))
    if not cum[-1] > 0:
        raise DatrigError("the weights sum to zero or less: no quantile exists")
    return [float(distinct[_first_reaching(cum, q * cum[-1])]) for q in qs]
