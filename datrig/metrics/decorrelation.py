"""How independent is a classifier score of a protected variable, judged where it matters.

A calibration uses the score through a cut, in bins of pT. So the primary figures here do not
change when the score is squashed through a monotonic function (a sigmoid, say):

* the ABCD factor ``R = N_A N_D / (N_B N_C)`` of the isolation x ID double sideband among
  fakes, per pT bin, with its Poisson uncertainty (R = 1: the sideband estimate needs no
  correction);
* the working-point efficiency across bins of the protected variable within each pT bin:
  max/min and chi2/ndf against a flat efficiency;
* distance correlation of the *ranks* (copula dCor), invariant under monotonic maps.

Distance correlation of the raw score is kept as a secondary figure (it is what the DisCo
penalty minimises, and it moves when only the score's shape changes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata

from datrig.errors import DatrigError
from datrig.metrics.classifier import threshold_at_efficiency, weighted_threshold

# region codes of AbcdRegions.assign
REGION_A, REGION_B, REGION_C, REGION_D, OUTSIDE = 0, 1, 2, 3, -1


def distance_correlation(x: np.ndarray, y: np.ndarray) -> float:
    """Distance correlation dCor(x, y) (not squared, V-statistic) of two 1-D samples, in
    O(n log^2 n) (:mod:`datrig.metrics.dcov1d`; dcor is the reference in the tests)."""
    from datrig.metrics.dcov1d import distance_correlation_1d

    x = np.ascontiguousarray(x, dtype=np.float64)
    y = np.ascontiguousarray(y, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise DatrigError(
            f"distance correlation needs two 1-D arrays of equal length, got {x.shape}, {y.shape}"
        )
    if x.size < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return 0.0
    return distance_correlation_1d(x, y)


def ranks(x: np.ndarray) -> np.ndarray:
    """Empirical CDF values in (0, 1] (ties share their average rank)."""
    x = np.asarray(x, dtype=np.float64)
    return rankdata(x) / max(x.size, 1)


def rank_distance_correlation(x: np.ndarray, y: np.ndarray) -> float:
    """dCor of the ranks (copula distance correlation): unchanged by any monotonic map of x
    or y, 0 if and only if x and y are independent."""
    return distance_correlation(ranks(x), ranks(y))


def quantile_bin_edges(values: np.ndarray, n_bins: int) -> np.ndarray:
    """Equal-population bin edges (so every bin has ~n/n_bins events), duplicates dropped."""
    edges = np.quantile(np.asarray(values, dtype=np.float64), np.linspace(0.0, 1.0, n_bins + 1))
    return np.unique(edges)


def bin_index(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin of each value (bins ``[e_i, e_i+1)``, last one closed; outliers go to the end bins)."""
    return np.clip(np.searchsorted(edges, values, side="right") - 1, 0, edges.size - 2)


def binned_efficiency(
    passed: np.ndarray, variable: np.ndarray, edges: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Pass fraction and its binomial uncertainty in bins of ``variable`` (last bin closed)."""
    idx = bin_index(variable, edges)
    n = np.bincount(idx, minlength=edges.size - 1).astype(np.float64)
    k = np.bincount(idx, weights=passed.astype(np.float64), minlength=edges.size - 1)
    eff = np.divide(k, n, out=np.full_like(n, np.nan), where=n > 0)
    err = np.sqrt(np.divide(eff * (1 - eff), n, out=np.zeros_like(n), where=n > 0))
    return eff, err


def flatness(eff: np.ndarray, err: np.ndarray | None = None) -> dict[str, float]:
    """Flatness of a binned efficiency: std/mean, max/min and (with binomial errors) chi2 and
    degrees of freedom against a constant efficiency (the error-weighted mean)."""
    ok = np.isfinite(eff)
    e = np.asarray(eff, dtype=np.float64)[ok]
    mean = float(np.mean(e)) if e.size else math.nan
    out = {
        "std_over_mean": float(np.std(e)) / mean if mean > 0 else math.nan,
        "max_over_min": float(np.max(e) / np.min(e)) if e.size and np.min(e) > 0 else math.inf,
    }
    if err is not None:
        s = np.asarray(err, dtype=np.float64)[ok]
        use = s > 0
        if use.sum() >= 2:
            w = 1.0 / s[use] ** 2
            flat = float(np.sum(w * e[use]) / np.sum(w))
            out["chi2"] = float(np.sum(w * (e[use] - flat) ** 2))
            out["ndf"] = int(use.sum() - 1)
    return out


@dataclass(frozen=True)
class AbcdRegions:
    """The isolation x ID regions of a double-sideband (ABCD) measurement.

    A: score >= ``pass_threshold`` and isolated (``iso < iso_cut``); B: passing, non-isolated
    (``iso > iso_cut + iso_gap``); C and D: the same isolation categories with a score below
    ``control_threshold`` (<= ``pass_threshold``: the complement of the ID, or a fake-enriched
    band well below it, as ATLAS's "non-tight" reverses only some cuts). Events in the
    isolation gap or between the two thresholds belong to no region.
    """

    pass_threshold: float
    control_threshold: float
    iso_cut: float  # GeV
    iso_gap: float  # GeV

    def __post_init__(self) -> None:
        if self.control_threshold > self.pass_threshold:
            raise DatrigError("the control threshold must not exceed the ID's pass threshold")
        if self.iso_gap < 0:
            raise DatrigError(f"the isolation gap must be >= 0 GeV, got {self.iso_gap}")

    def assign(self, score: np.ndarray, iso: np.ndarray) -> np.ndarray:
        """Region code per event (REGION_A..REGION_D, or OUTSIDE)."""
        score = np.asarray(score, dtype=np.float64)
        iso = np.asarray(iso, dtype=np.float64)
        isolated = iso < self.iso_cut
        non_isolated = iso > self.iso_cut + self.iso_gap
        passed = score >= self.pass_threshold
        control = score < self.control_threshold
        region = np.full(score.shape, OUTSIDE, dtype=np.int8)
        region[passed & isolated] = REGION_A
        region[passed & non_isolated] = REGION_B
        region[control & isolated] = REGION_C
        region[control & non_isolated] = REGION_D
        return region

    @classmethod
    def from_sim(
        cls,
        score: np.ndarray,
        label: np.ndarray,
        iso: np.ndarray,
        *,
        id_efficiency: float = 0.8,
        control_efficiency: float | None = None,
        iso_quantile: float = 0.9,
        iso_gap: float = 2.0,
        weights: np.ndarray | None = None,
    ) -> AbcdRegions:
        """Regions from simulated photons (label 1): the tight ID keeps ``id_efficiency`` of
        them, the isolation cut ``iso_quantile`` of them; the control band holds the scores
        below the ``control_efficiency`` point (None: the complement of the ID). With
        ``weights`` every fraction is a fraction of the signal's (signed) weight sum."""
        is_sig = np.asarray(label) == 1
        sig = np.asarray(score)[is_sig]
        if sig.size == 0:
            raise DatrigError("no simulated photons to define the ID working point with")
        iso_sig = np.asarray(iso)[is_sig]
        if weights is None:
            pass_t = threshold_at_efficiency(sig, id_efficiency)
            control_t = pass_t
            if control_efficiency is not None:
                control_t = min(threshold_at_efficiency(sig, control_efficiency), pass_t)
            iso_cut = float(np.quantile(iso_sig, iso_quantile))
            return cls(pass_t, control_t, iso_cut, iso_gap)
        w = np.asarray(weights, np.float64)[is_sig]
        pass_t = weighted_threshold(sig, id_efficiency, w)
        control_t = pass_t
        if control_efficiency is not None:
            control_t = min(weighted_threshold(sig, control_efficiency, w), pass_t)
        iso_cut = -weighted_threshold(-iso_sig, iso_quantile, w)  # the iso_quantile quantile
        return cls(pass_t, control_t, float(iso_cut), iso_gap)


def region_counts(
    region: np.ndarray, bins: np.ndarray, n_bins: int, weights: np.ndarray | None = None
) -> np.ndarray:
    """(n_bins, 4) counts of regions A-D per bin (events OUTSIDE are ignored)."""
    inside = region >= 0
    flat = bins[inside].astype(np.int64) * 4 + region[inside]
    w = None if weights is None else np.asarray(weights, dtype=np.float64)[inside]
    counts = np.bincount(flat, weights=w, minlength=n_bins * 4)
    return counts.reshape(n_bins, 4).astype(np.float64)


def abcd_factor(
    counts: np.ndarray, sum_w2: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """R = N_A N_D / (N_B N_C) and its uncertainty, per row of (…, 4) counts: Poisson, or from
    the summed squared weights ``sum_w2`` of weighted counts; NaN where a region is empty."""
    counts = np.asarray(counts, dtype=np.float64)
    a, b, c, d = (counts[..., i] for i in range(4))
    ok = (a > 0) & (b > 0) & (c > 0) & (d > 0)
    var = counts if sum_w2 is None else np.asarray(sum_w2, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(ok, a * d / (b * c), np.nan)
        rel2 = sum(var[..., i] / counts[..., i] ** 2 for i in range(4))
        rel = np.sqrt(np.where(ok, rel2, np.nan))
    return r, r * rel


@dataclass(frozen=True)
class PtBinnedDecorrelation:
    """The primary decorrelation figures of a photon-ID score among fakes, per pT bin."""

    pt_edges: np.ndarray
    abcd_r: np.ndarray
    abcd_r_err: np.ndarray
    counts: np.ndarray  # (n_pt, 4) fakes in A-D
    flatness_max_over_min: np.ndarray
    flatness_chi2: np.ndarray
    flatness_ndf: np.ndarray
    rank_dcor: np.ndarray  # per pT bin

    def to_json(self, suffix: str = "") -> dict[str, object]:
        """Flat JSON keys, per pT bin lists plus the combined flatness chi2/ndf."""
        ndf = int(np.sum(self.flatness_ndf))
        return {
            f"abcd_r_ptbins{suffix}": self.abcd_r.tolist(),
            f"abcd_r_err_ptbins{suffix}": self.abcd_r_err.tolist(),
            f"abcd_r_max_deviation{suffix}": float(np.nanmax(np.abs(self.abcd_r - 1))),
            f"pt_edges{suffix}": self.pt_edges.tolist(),
            f"flatness_max_over_min_ptbins{suffix}": self.flatness_max_over_min.tolist(),
            f"flatness_chi2_ndf{suffix}": float(np.sum(self.flatness_chi2)) / ndf
            if ndf
            else math.nan,
            f"rank_dcor_ptbinned{suffix}": float(np.mean(self.rank_dcor)),
        }


def pt_binned_decorrelation(
    score: np.ndarray,
    iso: np.ndarray,
    pt: np.ndarray,
    regions: AbcdRegions,
    pt_edges: np.ndarray,
    n_iso_bins: int = 5,
    max_dcor_events: int = 100_000,
    weights: np.ndarray | None = None,
) -> PtBinnedDecorrelation:
    """Figures for fakes (pass only fakes) in bins of ``pt_edges``: ABCD factor (weighted
    counts with sum-of-squares errors when ``weights`` are given), working-point flatness
    across ``n_iso_bins`` equal-population isolation bins, and rank dCor (unweighted)."""
    score, iso, pt = (np.asarray(v, dtype=np.float64) for v in (score, iso, pt))
    n_pt = pt_edges.size - 1
    pt_bin = bin_index(pt, pt_edges)
    region = regions.assign(score, iso)
    if weights is None:
        counts = region_counts(region, pt_bin, n_pt)
        r, r_err = abcd_factor(counts)
    else:
        w = np.asarray(weights, np.float64)
        counts = region_counts(region, pt_bin, n_pt, w)
        r, r_err = abcd_factor(counts, region_counts(region, pt_bin, n_pt, w**2))
    max_min, chi2, ndf, rank_dc = (np.full(n_pt, np.nan) for _ in range(4))
    passed = score >= regions.pass_threshold
    for k in range(n_pt):
        sel = pt_bin == k
        if np.count_nonzero(sel) < 2 * n_iso_bins:
            continue
        edges = quantile_bin_edges(iso[sel], n_iso_bins)
        eff, err = binned_efficiency(passed[sel], iso[sel], edges)
        flat = flatness(eff, err)
        max_min[k] = flat["max_over_min"]
        chi2[k], ndf[k] = flat.get("chi2", np.nan), flat.get("ndf", 0)
        idx = np.flatnonzero(sel)[:max_dcor_events]
        rank_dc[k] = rank_distance_correlation(score[idx], iso[idx])
    return PtBinnedDecorrelation(
        np.asarray(pt_edges, dtype=np.float64), r, r_err, counts, max_min, chi2,
        np.nan_to_num(ndf).astype(int), rank_dc,
    )  # fmt: skip
