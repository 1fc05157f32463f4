"""The data-driven measurement: fake yield in the signal region and photon ID efficiency.

Candidates fall in six regions: the ID score band (T: passes the tight ID; M: between the ID
and the control band; L: the fake-enriched control band) times isolation (I: isolated; N:
non-isolated, beyond a gap). The double-sideband (ABCD) regions are A = TI, B = TN, C = LI,
D = LN. In the ``data`` domain, with S the isolated photons (unknown) and f_X the fraction of
isolated photons that simulation puts in region X (small leakage terms: photons in the control
band or non-isolated), the fakes in each region are ``F_X = N_X - f_X S``; the fakes' isolation
ratio is measured in the control band, ``k = F_LI / F_LN``; the fakes in the isolated tight and
middle regions follow as ``F_TI = R k F_TN`` and ``F_MI = R_M k F_MN``, where R = 1 when the ID
is independent of isolation among fakes (or R from simulation, the usual correction); and

    S = (N_TI - F_TI) + (N_MI - F_MI) + f_LI S,   efficiency = (N_TI - F_TI) / S,

solved by fixed-point iteration (the leakage terms are small). Only counts of all candidates
enter: the measurement never reads data labels; they are used only for the closure.
Statistical uncertainties come from a bootstrap with Poisson(1) weights per event.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from datrig.errors import DatrigError

TI, TN, MI, MN, LI, LN = range(6)
REGION_LABELS = ("A: pass ID, isolated", "B: pass ID, non-isolated", "M: middle band, isolated",
                 "M: middle band, non-isolated", "C: control band, isolated",
                 "D: control band, non-isolated")  # fmt: skip
MIN_COUNT = 20  # events per region and bin below which nothing is estimated
N_ITERATIONS = 60


def band_regions(
    score: np.ndarray, iso: np.ndarray, pass_t: float, control_t: float, iso_cut: float, gap: float
) -> np.ndarray:
    """Region code (TI..LN) of every candidate, -1 in the isolation gap."""
    band = np.where(score >= pass_t, 0, np.where(score >= control_t, 1, 2))
    iso_cat = np.where(iso < iso_cut, 0, np.where(iso > iso_cut + gap, 1, -1))
    return np.where(iso_cat >= 0, 2 * band + iso_cat, -1).astype(np.int64)


@dataclass(frozen=True)
class Estimate:
    """Per-bin results (arrays over bins; a leading replica axis in bootstrap replicas)."""

    fakes_a: np.ndarray  # estimated fakes in A
    efficiency: np.ndarray  # estimated ID efficiency of isolated photons
    isolated_photons: np.ndarray  # S


def estimate(
    counts: np.ndarray, sim_photons: np.ndarray, r_t: np.ndarray, r_m: np.ndarray
) -> Estimate:
    """The measurement from unlabelled region counts ``(..., n_bins, 6)``, simulated photon
    counts for the leakage fractions, and the ABCD factors (1 or from simulation)."""
    n = np.asarray(counts, dtype=np.float64)
    p = np.asarray(sim_photons, dtype=np.float64)
    f = p / (p[..., TI] + p[..., MI] + p[..., LI])[..., None]
    s = n[..., TI] + n[..., MI]
    for _ in range(N_ITERATIONS):
        f_ln = n[..., LN] - f[..., LN] * s
        k = (n[..., LI] - f[..., LI] * s) / f_ln
        fakes_ti = r_t * k * (n[..., TN] - f[..., TN] * s)
        fakes_mi = r_m * k * (n[..., MN] - f[..., MN] * s)
        s = (n[..., TI] - fakes_ti) + (n[..., MI] - fakes_mi) + f[..., LI] * s
    return Estimate(fakes_ti, (n[..., TI] - fakes_ti) / s, s)


def abcd_factors(fakes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(R, R_M) of fake counts (..., 6): R = F_TI F_LN / (F_TN F_LI), same for the middle band."""
    f = np.asarray(fakes, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        r_t = f[..., TI] * f[..., LN] / (f[..., TN] * f[..., LI])
        r_m = f[..., MI] * f[..., LN] / (f[..., MN] * f[..., LI])
    return r_t, r_m


def check_counts(counts: np.ndarray, labels: tuple[str, ...], what: str) -> None:
    """A clear error naming the bin and region where too few events make an estimate void."""
    low = np.argwhere(counts < MIN_COUNT)
    if low.size:
        b, r = low[0]
        raise DatrigError(
            f"calibration bin '{labels[b]}': {what} has {int(counts[b, r])} events in region "
            f"{REGION_LABELS[r]} (need >= {MIN_COUNT}); evaluate more events (--data with a "
            "larger sample) or use fewer bins"
        )


def poisson_counts(
    cells: np.ndarray, n_cells: int, n_replicas: int, seed: int, chunk: int = 8
) -> np.ndarray:
    """Cell counts (n_replicas + 1, n_cells): row 0 the observed counts, then bootstrap
    replicas with Poisson(1) weights per event (seeded). ``cells < 0`` are ignored."""
    keep = cells >= 0
    idx = cells[keep]
    out = np.empty((n_replicas + 1, n_cells))
    out[0] = np.bincount(idx, minlength=n_cells)
    rng = np.random.default_rng(seed)
    for start in range(0, n_replicas, chunk):
        for r in range(start, min(start + chunk, n_replicas)):
            weights = rng.poisson(1.0, idx.size).astype(np.float64)
            out[r + 1] = np.bincount(idx, weights=weights, minlength=n_cells)
    return out
