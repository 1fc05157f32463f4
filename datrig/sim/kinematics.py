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


def two_body_decay(
    rng: np.random.Generator,
    m: np.ndarray,
    pt_sys: np.ndarray,
    y_sys: np.ndarray,
    phi_sys: np.ndarray,
    cos_theta: np.ndarray,
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """Two massless photons from systems of mass ``m`` [GeV] with transverse momentum
    ``pt_sys``, rapidity ``y_sys`` and azimuth ``phi_sys``, decaying at ``cos_theta`` in the
    rest frame (uniform azimuth drawn here); returns (E, px, py, pz) per photon [GeV]."""
    n = m.shape[0]
    mt = np.sqrt(m**2 + pt_sys**2)
    big_e, pz_sys = mt * np.cosh(y_sys), mt * np.sinh(y_sys)
    px_sys, py_sys = pt_sys * np.cos(phi_sys), pt_sys * np.sin(phi_sys)
    bx, by, bz = px_sys / big_e, py_sys / big_e, pz_sys / big_e
    b2 = np.clip(bx**2 + by**2 + bz**2, 0.0, 1.0 - 1e-12)
    gamma = 1.0 / np.sqrt(1.0 - b2)
    sin_t = np.sqrt(1.0 - cos_theta**2)
    az = rng.uniform(0.0, 2.0 * np.pi, n)
    out = []
    for sign in (1.0, -1.0):
        e0 = m / 2.0
        qx, qy, qz = (
            sign * e0 * sin_t * np.cos(az),
            sign * e0 * sin_t * np.sin(az),
            sign * e0 * cos_theta,
        )
        bq = bx * qx + by * qy + bz * qz
        k = (gamma - 1.0) * bq / np.where(b2 > 0, b2, 1.0) + gamma * e0
        out.append((gamma * (e0 + bq), qx + k * bx, qy + k * by, qz + k * bz))
    return out


def photon_kinematics(
    p: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(pT, eta, phi, E) of massless four-vectors (E, px, py, pz)."""
    e, px, py, pz = p
    pt = np.hypot(px, py)
    eta = np.arcsinh(pz / np.maximum(pt, 1e-9))
    return pt, eta, np.arctan2(py, px), e
