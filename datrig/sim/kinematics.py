"""Candidate kinematics shared by photons and jet fakes (so the labels differ by showers only)."""

from __future__ import annotations

import numpy as np

from datrig.sim.config import DomainKnobs, PhotonSampleConfig


def sample_pt(rng: np.random.Generator, n: int, cfg: PhotonSampleConfig) -> np.ndarray:
    """Falling spectrum dN/dpT ~ pT^-power between pt_min and pt_max [GeV] (inverse CDF)."""
    k = 1.0 - cfg.pt_power
    lo, hi = cfg.pt_min**k, cfg.pt_max**k
    return (lo + (hi - lo) * rng.random(n)) ** (1.0 / k)


def sample_eta(rng: np.random.Generator, n: int, cfg: PhotonSampleConfig) -> np.ndarray:
    """Uniform in |eta| < eta_max outside the barrel/end-cap crack, random sign."""
    c0, c1 = cfg.crack
    usable = cfg.eta_max - (c1 - c0)
    a = rng.random(n) * usable
    a = np.where(a >= c0, a + (c1 - c0), a)
    return np.where(rng.random(n) < 0.5, -a, a)


def sample_mu(rng: np.random.Generator, n: int, knobs: DomainKnobs) -> np.ndarray:
    """Pile-up interactions per crossing: Gamma distribution with the domain's mean and sd."""
    shape = (knobs.mu_mean / knobs.mu_sd) ** 2
    return rng.gamma(shape, knobs.mu_sd**2 / knobs.mu_mean, n)
