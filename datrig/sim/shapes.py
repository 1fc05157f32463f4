"""ATLAS shower-shape variables computed from the cell energies (not sampled), so that their
correlations follow from the showers. Definitions as in the ATLAS photon-ID papers:

- Rhad   = E_had / E (hadronic 3x3 of 0.1x0.1 over the EM cluster energy)
- Reta   = E(3x7) / E(7x7), Rphi = E(3x3) / E(3x7) in the middle layer (eta x phi cells)
- weta2  = energy-weighted eta width in 3x5 middle cells [eta]
- ws3    = width over the 3 strips around the hottest strip [strips]
- wstot  = width over +-10 strips around the hottest strip [strips]
- Eratio = (E1 - E2) / (E1 + E2) of the two highest strip maxima in the 0.125-wide strip
  window (all 40 strips); DeltaE = E2 - Emin between them [GeV]
- fside  = (E(+-3 strips) - E(+-1 strip)) / E(+-1 strip)
- f1, f3 = strip / back-layer fraction of the cluster energy
"""

from __future__ import annotations

import numpy as np

from datrig.sim.geometry import MIDDLE
from datrig.sim.showers import CellDeposits

_EPS = 1e-6
STRIP_SEARCH = (12, 28)  # hottest strip searched in the central 16 strips
STRIP_HALF = 10  # wstot window: +-10 strips
CLUSTER_STRIPS = (8, 32)  # 24 strips = 3 middle cells in eta


def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return num / np.where(np.abs(den) > _EPS, den, _EPS)


def layer_energies(dep: CellDeposits) -> dict[str, np.ndarray]:
    """Cluster energies per layer [GeV]: 3x7 middle cells (eta x phi) and the matching strips."""
    e_l1 = dep.strips[:, CLUSTER_STRIPS[0] : CLUSTER_STRIPS[1]].sum(axis=1)
    e_l2 = dep.middle[:, 2:5, :].sum(axis=(1, 2))
    e_l3 = dep.back.sum(axis=(1, 2))
    e_had = dep.had.sum(axis=(1, 2))
    e_raw = dep.ps + e_l1 + e_l2 + e_l3
    return {
        "e_raw": e_raw,
        "e_ps": dep.ps,
        "e_l1": e_l1,
        "e_l2": e_l2,
        "e_l3": e_l3,
        "e_had": e_had,
    }


def shower_shapes(dep: CellDeposits, energies: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The 11 shower-shape variables of each candidate."""
    n = dep.ps.shape[0]
    e_raw = energies["e_raw"]
    mid = dep.middle
    e77 = mid.sum(axis=(1, 2))
    e37 = mid[:, 2:5, :].sum(axis=(1, 2))
    e33 = mid[:, 2:5, 2:5].sum(axis=(1, 2))
    out = {
        "Rhad": _safe_div(energies["e_had"], e_raw),
        "Reta": _safe_div(e37, e77),
        "Rphi": _safe_div(e33, e37),
    }
    # weta2 over 3 (eta) x 5 (phi) cells around the centre.
    block = np.clip(mid[:, 2:5, 1:6].sum(axis=2), 0.0, None)  # (n, 3)
    eta_c = MIDDLE.centres()[0][2:5]
    s0 = block.sum(axis=1)
    m1 = _safe_div(block @ eta_c, s0)
    m2 = _safe_div(block @ eta_c**2, s0)
    out["weta2"] = np.sqrt(np.clip(m2 - m1**2, 0.0, None))

    strips = dep.strips
    rows = np.arange(n)[:, None]
    lo, hi = STRIP_SEARCH
    i1 = lo + np.argmax(strips[:, lo:hi], axis=1)
    e1 = strips[np.arange(n), i1]
    offs = np.arange(-STRIP_HALF, STRIP_HALF + 1)
    win = strips[rows, i1[:, None] + offs]  # (n, 21)
    pos = np.clip(win, 0.0, None)
    c = STRIP_HALF
    e3 = pos[:, c - 1 : c + 2].sum(axis=1)
    out["ws3"] = np.sqrt(_safe_div(pos[:, c - 1] + pos[:, c + 1], e3).clip(0.0, 1.0))
    out["wstot"] = np.sqrt(_safe_div(pos @ offs.astype(float) ** 2, pos.sum(axis=1)))
    e7 = pos[:, c - 3 : c + 4].sum(axis=1)
    out["fside"] = _safe_div(e7 - e3, e3)

    # Second maximum: highest local maximum other than the hottest strip, searched (as in
    # ATLAS) over the whole 0.125-wide strip window, so widely split eta -> gamma gamma count.
    inner = strips[:, 1:-1]
    is_max = (inner > strips[:, :-2]) & (inner >= strips[:, 2:])
    is_max[np.arange(n), np.clip(i1 - 1, 0, inner.shape[1] - 1)] = False
    cand = np.where(is_max, inner, -np.inf)
    j2 = np.argmax(cand, axis=1)
    best = cand[np.arange(n), j2]
    has2 = np.isfinite(best) & (best > 0)
    e2 = np.where(has2, best, 0.0)
    k2 = j2 + 1  # index in strips
    between_lo = np.minimum(k2, i1)[:, None]
    between_hi = np.maximum(k2, i1)[:, None]
    idx = np.arange(strips.shape[1])[None, :]
    emin = np.where((idx >= between_lo) & (idx <= between_hi), strips, np.inf).min(axis=1)
    out["Eratio"] = _safe_div(e1 - e2, e1 + e2)
    out["DeltaE"] = np.where(has2, e2 - emin, 0.0)
    out["f1"] = _safe_div(energies["e_l1"], e_raw)
    out["f3"] = _safe_div(energies["e_l3"], e_raw)
    return out
