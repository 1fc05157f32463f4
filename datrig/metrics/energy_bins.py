"""The bins of the energy figures of merit: |eta| regions of the calorimeter and pT ranges.

The |eta| bins follow the regions of different upstream material (the barrel/end-cap crack,
1.37-1.52, has no photons); the in-situ energy scale (:mod:`datrig.calibrate.energy_scale`)
uses the same bins, so resolution and scale are quoted on one grid.
"""

from __future__ import annotations

import numpy as np

ETA_BINS: tuple[tuple[float, float], ...] = (
    (0.0, 0.6),
    (0.6, 1.0),
    (1.0, 1.37),
    (1.52, 1.8),
    (1.8, 2.37),
)
# reconstructed pT [GeV]: roughly quartiles of the photon sample's falling spectrum (pT^-3
# above 20 GeV); the last bin is open
PT_EDGES: tuple[float, ...] = (0.0, 25.0, 35.0, 55.0, float("inf"))


def eta_bin(
    abs_eta: np.ndarray, eta_bins: tuple[tuple[float, float], ...] = ETA_BINS
) -> np.ndarray:
    """Index of the |eta| bin of each value, -1 outside all (the crack); the last bin is
    closed."""
    out = np.full(np.shape(abs_eta), -1, dtype=np.int64)
    for k, (lo, hi) in enumerate(eta_bins):
        last = k == len(eta_bins) - 1
        inside = (abs_eta >= lo) & ((abs_eta <= hi) if last else (abs_eta < hi))
        out[inside] = k
    return out


def pt_bin(pt: np.ndarray, edges: tuple[float, ...] = PT_EDGES) -> np.ndarray:
    """Index of the pT bin of each value (bins [lo, hi)), -1 outside."""
    idx = np.searchsorted(np.asarray(edges), pt, side="right") - 1
    return np.where((idx >= 0) & (idx < len(edges) - 1), idx, -1)


def eta_label(lo: float, hi: float) -> str:
    return f"{lo:g}-{hi:g}"


def pt_label(lo: float, hi: float) -> str:
    return f"{lo:g}-{hi:g}" if np.isfinite(hi) else f">{lo:g}"
