"""Calorimeter and track isolation of a candidate [GeV], pile-up corrected on average.

Prompt photons see only the underlying event and pile-up; fakes add the jet's hadrons in the
cone, the same hadrons whose cluster part widens the shower (see datrig.sim.jets).
"""

from __future__ import annotations

import numpy as np

from datrig.sim.config import PhotonSampleConfig


def calo_isolation(
    rng: np.random.Generator,
    pt: np.ndarray,
    eta: np.ndarray,
    mu: np.ndarray,
    had_outside: np.ndarray,
    cfg: PhotonSampleConfig,
) -> np.ndarray:
    """E_T in a Delta R < 0.4 cone minus the core, after the average pile-up subtraction."""
    n = pt.shape[0]
    in_cone = cfg.iso_cone_fraction * rng.uniform(0.6, 1.0, n)
    jet = had_outside * in_cone / np.cosh(eta)
    ue = rng.exponential(cfg.ue_iso_mean, n) - cfg.ue_iso_mean
    pileup = cfg.pileup_iso_sigma * np.sqrt(mu) * rng.standard_normal(n)
    leakage = 0.01 * pt * (1.0 + 0.3 * rng.standard_normal(n))  # imperfect core subtraction
    return jet + ue + pileup + leakage


def track_isolation(
    rng: np.random.Generator,
    eta: np.ndarray,
    mu: np.ndarray,
    had_in_cluster: np.ndarray,
    had_outside: np.ndarray,
    cfg: PhotonSampleConfig,
) -> np.ndarray:
    """Scalar sum of track pT > 1 GeV in Delta R < 0.2 (excluding conversion tracks)."""
    n = eta.shape[0]
    charged = cfg.charged_fraction * rng.uniform(0.5, 1.5, n).clip(0.0, 1.0 / cfg.charged_fraction)
    jet_pt = charged * (had_in_cluster + rng.uniform(0.3, 0.7, n) * had_outside) / np.cosh(eta)
    jet_pt = np.where(jet_pt > 1.0, jet_pt, 0.0)
    n_pu = rng.poisson(cfg.pileup_track_rate * mu + 0.3)
    pu_pt = rng.gamma(np.maximum(n_pu, 1), cfg.pileup_track_pt) * (n_pu > 0)
    return jet_pt + pu_pt
