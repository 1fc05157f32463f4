"""Jet fakes: a leading pi0/eta -> gamma gamma plus the jet's other hadrons.

Two independent pieces of physics make a fake, mirroring the ATLAS photon-ID picture:

- The leading meson's two-photon structure: opening angle ~ 2m/E (m / (E sqrt(u(1-u))) for an
  energy sharing u), oriented at random. It depends only on the meson's mass, energy and decay,
  *not* on the fragmentation, and is what the strip variables (Eratio, DeltaE, ws3, wstot,
  fside) resolve; pairs split mostly in phi stay unresolved (the strips are 0.1 wide in phi).
- The fragmentation variable z = E_leading / E_jet: small z means more hadronic energy next to
  the candidate, hence *both* leakier, wider showers (Rhad, f3, Reta tails: the part of the
  hadrons inside the cluster) *and* larger isolation (the part in the cone). That shared cause
  is what correlates a shower-shape classifier with isolation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from datrig.sim.config import PhotonSampleConfig

PI0_MASS = 0.135  # [GeV]
ETA_MASS = 0.548  # [GeV]


@dataclass
class FakeTruth:
    """Per-fake truth: the two photons (energy fractions, offsets), hadron energies [GeV]."""

    z: np.ndarray
    u: np.ndarray  # energy fraction of photon 1
    d_eta: np.ndarray  # (n, 2) offsets of the photons from their energy centroid [eta]
    d_phi: np.ndarray  # (n, 2) [rad]
    had_in_cluster: np.ndarray  # hadron energy deposited in the cluster [GeV]
    had_outside: np.ndarray  # hadron energy near but outside the cluster [GeV]


def sample_fakes(
    rng: np.random.Generator,
    e_meson: np.ndarray,
    eta: np.ndarray,
    cfg: PhotonSampleConfig,
    alpha_scale: float = 1.0,
) -> FakeTruth:
    """``alpha_scale`` multiplies the fragmentation's alpha (the domain knob)."""
    n = e_meson.shape[0]
    z = cfg.z_min + (1.0 - cfg.z_min) * rng.beta(cfg.z_alpha * alpha_scale, cfg.z_beta, n)
    mass = np.where(rng.random(n) < cfg.eta_meson_fraction, ETA_MASS, PI0_MASS)
    u = np.clip(rng.random(n), 0.02, 0.98)
    opening = mass / (e_meson * np.sqrt(u * (1.0 - u)))  # small-angle gamma-gamma opening [rad]
    psi = rng.uniform(0.0, 2.0 * np.pi, n)
    sep = opening * np.cosh(eta)  # angles -> (eta, phi) distances
    sep_eta, sep_phi = sep * np.cos(psi), sep * np.sin(psi)
    d_eta = np.stack([(1.0 - u) * sep_eta, -u * sep_eta], axis=1)
    d_phi = np.stack([(1.0 - u) * sep_phi, -u * sep_phi], axis=1)
    e_hadrons = e_meson * (1.0 - z) / z
    f_in = rng.beta(cfg.hadron_core_alpha, cfg.hadron_core_beta, n)
    return FakeTruth(z, u, d_eta, d_phi, f_in * e_hadrons, (1.0 - f_in) * e_hadrons)
