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
REGION_LABELS = (
    "A: pass ID, isolated",
    "B: pass ID, non-isolated",
    "M: middle band, isolated",
    "M: middle band, non-isolated",
    "C: control band, isolated",
    "D: control band, non-isolated",
)
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


def check_counts(
    counts: np.ndarray,
    labels: tuple[str, ...],
    what: str,
    regions: tuple[int, ...] = (TI, TN, MI, MN, LI, LN),
) -> None:
    """A clear error naming the bin and region where too few events make an estimate void;
    ``counts`` is (n_bins, 6), only ``regions`` are checked."""
    sub = counts[:, list(regions)]
    low = np.argwhere(sub < MIN_COUNT)
    if low.size:
        b, r = low[0]
        too_few(
            labels[b], f"{what} has {int(sub[b, r])} events in region {REGION_LABELS[regions[r]]}"
        )


def too_few(label: str, what: str) -> None:
    raise DatrigError(
        f"calibration bin '{label}': {what} (need >= {MIN_COUNT}); evaluate more events "
        "(--data with a larger sample) or use fewer bins"
    )


def bootstrap_counts(
    streams: list[np.ndarray],
    n_cells: list[int],
    n_replicas: int,
    seed: int,
    event_weights: np.ndarray | None = None,
) -> list[np.ndarray]:
    """Cell counts of several views of the same events, each (n_replicas + 1, n_cells): row 0
    observed, then bootstrap replicas with one Poisson(1) weight per event shared by all views
    (so an estimate and its truth fluctuate together). Cells < 0 are ignored. With
    ``event_weights`` (signed) the counts are weight sums and the replicas' spread is the
    sum-of-squared-weights error."""
    keep = [s >= 0 for s in streams]
    out = [np.empty((n_replicas + 1, n)) for n in n_cells]
    ew = None if event_weights is None else np.asarray(event_weights, np.float64)
    for view, idx, k, n in zip(out, streams, keep, n_cells, strict=True):
        view[0] = np.bincount(idx[k], weights=None if ew is None else ew[k], minlength=n)
    rng = np.random.default_rng(seed)
    n_events = streams[0].size
    for r in range(1, n_replicas + 1):
        weights = rng.poisson(1.0, n_events).astype(np.float64)
        if ew is not None:
            weights *= ew
        for view, idx, k, n in zip(out, streams, keep, n_cells, strict=True):
            view[r] = np.bincount(idx[k], weights=weights[k], minlength=n)
    return out
