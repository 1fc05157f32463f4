"""The in-situ energy-scale sample: photon pairs from a narrow resonance, in both domains.

ATLAS and CMS set the energy scale *in data* with a resonance of known mass (Z -> ee): the
peak position of the reconstructed mass in data, compared with simulation, measures the
data/simulation scale difference without any true energy. Here a resonance of
:class:`~datrig.sim.config.ResonanceConfig` decays to two photons; each photon is simulated
by the photon sample's own detector response (:func:`datrig.sim.candidates.candidates_at`:
showers, upstream material, shower shapes, layer energies) in the file's domain, so a
regression trained on the photon sample applies to it unchanged, and the mismodelled ``data``
domain shifts the peak exactly as it shifts single photons. Rows 2k and 2k + 1 of a chunk are
the two photons of event k; photon directions are the true ones (the calorimeter's position
resolution is not modelled), so the reconstructed mass depends on the energies alone.
"""

from __future__ import annotations

import numpy as np

from datrig.data.schema import RESONANCE_FIELDS, dtype_of
from datrig.errors import DatrigError
from datrig.sim.candidates import candidates_at
from datrig.sim.config import GeneratorConfig, PhotonSampleConfig, ResonanceConfig
from datrig.sim.kinematics import photon_kinematics, sample_mu, two_body_decay

RESONANCE_DTYPE = dtype_of(RESONANCE_FIELDS)
MAX_TRIAL = 1 << 18  # events drawn per acceptance round (bounds memory)


def sample_mass(rng: np.random.Generator, n: int, rc: ResonanceConfig) -> np.ndarray:
    """True masses [GeV]: a Breit-Wigner of ``rc.width`` truncated to the mass window
    (inverse CDF of the Cauchy distribution), or the pole mass for a zero width."""
    if rc.width == 0.0:
        return np.full(n, rc.mass)
    half = rc.width / 2.0
    limit = np.arctan(rc.mass_window / half)
    return rc.mass + half * np.tan(rng.uniform(-limit, limit, n))


def in_acceptance(pt: np.ndarray, eta: np.ndarray, pc: PhotonSampleConfig) -> np.ndarray:
    """Photons the photon sample covers: pT in [pt_min, pt_max], |eta| < eta_max outside the
    crack, so the regression is never asked to extrapolate."""
    a = np.abs(eta)
    c0, c1 = pc.crack
    return (pt >= pc.pt_min) & (pt <= pc.pt_max) & (a < pc.eta_max) & ~((a > c0) & (a < c1))


def truth_pairs(
    rng: np.random.Generator, n_events: int, cfg: GeneratorConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(pT, eta, phi) of shape (n_events, 2) and the true mass (n_events,) of accepted events."""
    rc, pc = cfg.resonance, cfg.photons
    parts: list[tuple[np.ndarray, ...]] = []
    have = tried = 0
    while have < n_events:
        if have == 0 and tried > 100 * n_events + 20_000:
            raise DatrigError(
                f"resonance sample: no event of {tried} has both photons in the photon "
                "sample's acceptance; check the resonance and photons configs"
            )
        trial = min(2 * (n_events - have) + 64, MAX_TRIAL)
        m = sample_mass(rng, trial, rc)
        pt_over_m = rng.gamma(rc.pt_shape, rc.pt_over_m / rc.pt_shape, trial)
        y = rc.rapidity_sd * rng.standard_normal(trial)
        phi = rng.uniform(-np.pi, np.pi, trial)
        sign = np.where(rng.random(trial) < 0.5, -1.0, 1.0)
        cos_t = rng.random(trial) ** (1.0 / (1.0 + rc.cos_theta_power)) * sign
        g1, g2 = two_body_decay(rng, m, pt_over_m * m, y, phi, cos_t)
        pt1, eta1, phi1, _ = photon_kinematics(g1)
        pt2, eta2, phi2, _ = photon_kinematics(g2)
        ok = in_acceptance(pt1, eta1, pc) & in_acceptance(pt2, eta2, pc)
        keep = np.flatnonzero(ok)[: n_events - have]
        parts.append(
            (
                np.stack([pt1[keep], pt2[keep]], 1),
                np.stack([eta1[keep], eta2[keep]], 1),
                np.stack([phi1[keep], phi2[keep]], 1),
                m[keep],
            )
        )
        have += keep.size
        tried += trial
    pt, eta, phi, mass = (np.concatenate(x) for x in zip(*parts, strict=True))
    return pt, eta, phi, mass


def resonance_chunk(
    rng: np.random.Generator, n_rows: int, cfg: GeneratorConfig, domain: str
) -> np.ndarray:
    """``n_rows`` photons (``n_rows / 2`` events) of ``domain`` as RESONANCE_DTYPE rows."""
    if n_rows % 2:
        raise DatrigError(
            f"the resonance sample is written in photon pairs; a chunk of {n_rows} rows is odd "
            "(use an even config key chunk_rows)"
        )
    n_events = n_rows // 2
    pt, eta, phi, mass = truth_pairs(rng, n_events, cfg)
    mu = np.repeat(sample_mu(rng, n_events, cfg.knobs(domain)), 2)  # one crossing per event
    photons, _cells = candidates_at(
        rng,
        np.ones(n_rows, dtype=bool),
        pt.reshape(-1),
        eta.reshape(-1),
        phi.reshape(-1),
        mu,
        cfg,
        domain,
    )
    rows = np.empty(n_rows, dtype=RESONANCE_DTYPE)
    for name in photons.dtype.names or ():
        rows[name] = photons[name]
    rows["m_true"] = np.repeat(mass, 2)
    return rows
