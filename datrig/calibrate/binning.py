"""Calibration bins: pT, pT x |eta|, and k-means clusters of further candidate properties.

Photon ID calibrations (ATLAS EPJC 79 (2019) 205) are quoted per pT and |eta| bin. The research
plan also asks for bins built from further variables, found by clustering: here k-means
(scikit-learn) on the conditions a candidate was measured in: pile-up, conversion status, |eta|
and the presampler energy fraction (upstream material), fitted on simulated candidates and
applied unchanged to data. Shower shapes are left out on purpose: they are what the ID cuts
on, so clusters of them would split candidates into nearly pure passing or failing groups
(measured: a shape-based cluster had no passing candidate at all). Every binning is fitted on
sim only.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from datrig.metrics.decorrelation import bin_index, quantile_bin_edges

N_PT_BINS = 3  # terciles of the sim fakes' pT
ABS_ETA_BINS = ((0.0, 1.37), (1.52, 2.37))  # barrel, end-cap (the crack is not instrumented)
CLUSTER_FEATURES = ("mu", "converted", "abs_eta", "ps_fraction")
N_CLUSTERS = 4


@dataclass(frozen=True)
class Binning:
    """One way of splitting candidates into calibration bins."""

    name: str
    labels: tuple[str, ...]  # one human-readable description per bin
    pt_edges: np.ndarray
    cluster_center: np.ndarray | None = None  # (K, F) standardised k-means centres
    cluster_scale: tuple[np.ndarray, np.ndarray] | None = None  # (mean, std) per feature
    column: str = "pt"  # the condition the bins are terciles of (a task's own)

    @property
    def n_bins(self) -> int:
        return len(self.labels)

    def assign(self, events: np.ndarray) -> np.ndarray:
        """Bin index of every event (-1: outside every bin, e.g. in the |eta| crack)."""
        pt_bin = bin_index(events[self.column].astype(np.float64), self.pt_edges)
        if self.name == "pt":
            return pt_bin
        if self.name == "pt_eta":
            eta_bin = _abs_eta_bin(np.abs(events["eta"].astype(np.float64)))
            return np.where(eta_bin >= 0, pt_bin * len(ABS_ETA_BINS) + eta_bin, -1)
        mean, std = self.cluster_scale
        x = (_cluster_matrix(events) - mean) / std
        d2 = ((x[:, None, :] - self.cluster_center[None, :, :]) ** 2).sum(axis=2)
        return np.argmin(d2, axis=1)

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"labels": list(self.labels), "pt_edges": self.pt_edges}
        if self.cluster_center is not None:
            out["cluster_features"] = list(CLUSTER_FEATURES)
            out["cluster_centres_standardised"] = self.cluster_center
        return out


def _abs_eta_bin(abs_eta: np.ndarray) -> np.ndarray:
    out = np.full(abs_eta.shape, -1, dtype=np.int64)
    for k, (lo, hi) in enumerate(ABS_ETA_BINS):
        out[(abs_eta >= lo) & (abs_eta < hi)] = k
    return out


def _cluster_matrix(events: np.ndarray) -> np.ndarray:
    e_raw = np.maximum(events["e_raw"].astype(np.float64), 1e-3)
    columns = {
        "mu": events["mu"],
        "converted": events["converted"],
        "abs_eta": np.abs(events["eta"]),
        "ps_fraction": events["e_ps"] / e_raw,
    }
    return np.stack([np.asarray(columns[n], dtype=np.float64) for n in CLUSTER_FEATURES], 1)


def condition_binning(sim_events: np.ndarray, condition: str) -> Binning:
    """Terciles of a task's condition among the simulated background (its calibration bins)."""
    fakes = sim_events["label"] == 0
    edges = quantile_bin_edges(sim_events[condition][fakes].astype(np.float64), N_PT_BINS)
    labels = tuple(f"{condition} {lo:.4g}-{hi:.4g}" for lo, hi in itertools.pairwise(edges))
    return Binning("pt", labels, edges, column=condition)


def fit_binnings(sim_events: np.ndarray, seed: int) -> dict[str, Binning]:
    """pT terciles of sim fakes; pT x |eta|; k-means clusters of sim candidates."""
    from sklearn.cluster import KMeans

    fakes = sim_events["label"] == 0
    pt_edges = quantile_bin_edges(sim_events["pt"][fakes].astype(np.float64), N_PT_BINS)
    pt_labels = tuple(f"pT {lo:.0f}-{hi:.0f} GeV" for lo, hi in itertools.pairwise(pt_edges))
    eta_labels = tuple(f"|eta| {lo:g}-{hi:g}" for lo, hi in ABS_ETA_BINS)
    x = _cluster_matrix(sim_events)
    mean, std = x.mean(axis=0), x.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    km = KMeans(n_clusters=N_CLUSTERS, n_init=4, random_state=seed).fit((x - mean) / std)
    order = np.argsort(km.cluster_centers_[:, 0])  # by pile-up, so labels are reproducible
    centres = km.cluster_centers_[order]
    cluster_labels = tuple(
        f"cluster {k} (mu {c[0] * std[0] + mean[0]:.0f}, conv {c[1] * std[1] + mean[1]:.2f})"
        for k, c in enumerate(centres)
    )
    return {
        "pt": Binning("pt", pt_labels, pt_edges),
        "pt_eta": Binning(
            "pt_eta", tuple(f"{p}, {e}" for p in pt_labels for e in eta_labels), pt_edges
        ),
        "cluster": Binning("cluster", cluster_labels, pt_edges, centres, (mean, std)),
    }
