"""Energy deposits of EM showers and hadrons in the calorimeter cells (vectorised over candidates).

A candidate is a few *components* (prompt photon; e+e- of a conversion; the two photons of a
pi0/eta) plus an optional hadron deposit. Each EM component has a Gamma-function longitudinal
profile that starts at its conversion depth, so upstream material eats energy (more at high
|eta|, less at high E) and the presampler sees the early part of the shower; whatever passes
the back layer leaks into the hadronic layer. Laterally each component is a Gaussian core plus
a wider tail; cells get the integral over their area. Sampling fluctuations (~a/sqrt(E)),
a constant term and pile-up-dependent cell noise are applied last.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import gammainc

from datrig.sim.config import DetectorConfig, DomainKnobs
from datrig.sim.geometry import BACK, HADRONIC, MIDDLE, STRIPS, Layer, layer_depths

GAMMA_B = 0.5  # Gamma-profile slope parameter b (Longo & Sestili, EM showers)


@dataclass
class Components:
    """EM components (n, C) and the hadron deposit (n,) of a chunk; positions relative to the
    window centre [eta, rad], ``start`` = conversion depth [X0] from the start of the material."""

    energy: np.ndarray
    d_eta: np.ndarray
    d_phi: np.ndarray
    start: np.ndarray
    had_energy: np.ndarray
    had_d_eta: np.ndarray
    had_d_phi: np.ndarray
    had_width: float


@dataclass
class CellDeposits:
    """Measured cell energies [GeV] per layer and the truth energy lost upstream."""

    ps: np.ndarray  # (n,)
    strips: np.ndarray  # (n, 40)
    middle: np.ndarray  # (n, 7, 7)
    back: np.ndarray  # (n, 3, 3)
    had: np.ndarray  # (n, 3, 3)
    upstream_loss: np.ndarray  # (n,) truth energy absorbed before the presampler


def upstream_material(abs_eta: np.ndarray, det: DetectorConfig, knobs: DomainKnobs) -> np.ndarray:
    """Material in front of the presampler [X0], growing with |eta|."""
    x = det.material_x0_central + det.material_x0_slope * abs_eta**1.5
    return x * knobs.material_scale


def longitudinal_fractions(
    energy: np.ndarray,
    start: np.ndarray,
    x_up: np.ndarray,
    depths: np.ndarray,
    ecrit: float,
    a_jitter: np.ndarray,
) -> np.ndarray:
    """Fractions of each component's energy (…, 6): lost upstream, PS, strips, middle, back, leak.

    ``energy``/``start``/``a_jitter`` are (n, C); ``x_up`` (n,), ``depths`` (n, 4).
    """
    e = np.maximum(energy, 1e-3)
    tmax = np.maximum(np.log(e / ecrit) + 0.5, 1.0)
    a = (1.0 + GAMMA_B * tmax) * a_jitter
    bounds = np.concatenate([x_up[:, None], x_up[:, None] + depths], axis=1)  # (n, 5)
    t = np.maximum(bounds[:, None, :] - start[:, :, None], 0.0)  # (n, C, 5)
    cdf = gammainc(a[:, :, None], GAMMA_B * t)
    return np.concatenate([cdf[..., :1], np.diff(cdf, axis=-1), 1.0 - cdf[..., -1:]], axis=-1)


def _fast_cdf(z: np.ndarray) -> np.ndarray:
    """Gaussian CDF via the tanh (GELU) approximation: |error| < 2e-4, ~15x faster than erf."""
    return 0.5 + 0.5 * np.tanh(np.float32(0.7978846) * (z + np.float32(0.044715) * z * z * z))


def gaussian_cell_fractions(
    edges: np.ndarray, centre: np.ndarray, sigma: np.ndarray | float
) -> np.ndarray:
    """Gaussian integral over each cell: edges (m+1,), centre (n, C) -> (n, C, m), float32."""
    inv = (1.0 / np.asarray(sigma, dtype=np.float32))[..., None]
    z = (edges.astype(np.float32)[None, None, :] - centre.astype(np.float32)[..., None]) * inv
    c = _fast_cdf(z)
    return c[..., 1:] - c[..., :-1]


def lateral_cells(
    layer: Layer,
    weight: np.ndarray,
    d_eta: np.ndarray,
    d_phi: np.ndarray,
    sigma: np.ndarray | float,
    tail_factor: float,
    tail_fraction: float,
) -> np.ndarray:
    """Sum over components of weight x (core + tail Gaussian) integrated over the cells.

    weight/d_eta/d_phi: (n, C); returns (n, n_eta, n_phi) [GeV].
    """
    ee, pe = layer.edges()
    sig = np.broadcast_to(np.asarray(sigma, dtype=np.float32), weight.shape)
    weight = weight.astype(np.float32)
    out = None
    for frac, scale in ((1.0 - tail_fraction, 1.0), (tail_fraction, tail_factor)):
        # (n, C, ne) weighted eta fractions times (n, C, np) phi fractions, summed over C
        fe = gaussian_cell_fractions(ee, d_eta, sig * scale) * (weight * frac)[..., None]
        fp = gaussian_cell_fractions(pe, d_phi, sig * scale)
        part = np.matmul(fe.transpose(0, 2, 1), fp)  # (n, ne, np)
        out = part if out is None else out + part
    return out.astype(np.float64)


def deposit(
    rng: np.random.Generator,
    abs_eta: np.ndarray,
    mu: np.ndarray,
    comps: Components,
    det: DetectorConfig,
    knobs: DomainKnobs,
    em_hadron_fraction: float,
) -> CellDeposits:
    """Simulate the measured cell energies of a chunk of candidates."""
    n, n_comp = comps.energy.shape
    x_up = upstream_material(abs_eta, det, knobs)
    depths = layer_depths(abs_eta)
    a_jitter = 1.0 + 0.06 * rng.standard_normal((n, n_comp))
    frac = longitudinal_fractions(
        comps.energy, comps.start, x_up, depths, det.critical_energy, a_jitter
    )
    e_layer = frac * comps.energy[..., None]  # (n, C, 6)
    upstream_loss = e_layer[..., 0].sum(axis=1)
    # A small part of every EM shower punches into the hadronic layer (knob: had_leak_scale).
    punch = det.had_leak_fraction * knobs.had_leak_scale * comps.energy
    e_had_em = 0.8 * e_layer[..., 5] + punch
    e_mid = np.maximum(e_layer[..., 3] - punch, 0.0)

    tail_f, tail_w = det.tail_fraction, det.width_tail_factor
    # Shower-to-shower width fluctuations: common to all layers plus a strip-only part.
    jitter = np.exp(det.width_jitter * rng.standard_normal((n, 1)))
    jitter_strips = jitter * np.exp(0.5 * det.width_jitter * rng.standard_normal((n, 1)))
    w_strips = det.width_core_strips * knobs.strip_width_scale * jitter_strips
    w_mid = det.width_core_middle * knobs.middle_width_scale * jitter
    w_back = det.width_core_back * knobs.middle_width_scale * jitter
    args = (comps.d_eta, comps.d_phi)
    strips = lateral_cells(STRIPS, e_layer[..., 2], *args, w_strips, tail_w, tail_f)[..., 0]
    middle = lateral_cells(MIDDLE, e_mid, *args, w_mid, tail_w, tail_f)
    back = lateral_cells(BACK, e_layer[..., 4], *args, w_back, tail_w, tail_f)
    had = lateral_cells(HADRONIC, e_had_em, *args, 0.04, 2.0, 0.2)
    ps = e_layer[..., 1].sum(axis=1)

    idx = np.flatnonzero(comps.had_energy > 0)  # hadron deposits: jet fakes only
    if idx.size:
        h = comps.had_energy[idx, None]
        hd = (comps.had_d_eta[idx, None], comps.had_d_phi[idx, None])
        hw = comps.had_width
        em = em_hadron_fraction
        strips[idx] += lateral_cells(STRIPS, h * em * 0.15, *hd, hw, 2.5, 0.3)[..., 0]
        middle[idx] += lateral_cells(MIDDLE, h * em * 0.6, *hd, hw, 2.5, 0.3)
        back[idx] += lateral_cells(BACK, h * em * 0.25, *hd, hw, 2.5, 0.3)
        had[idx] += lateral_cells(HADRONIC, h * (1.0 - em), *hd, 1.5 * hw, 2.5, 0.3)

    # Sampling fluctuations per layer (~a/sqrt(E)), the presampler's being coarser.
    for cells, a in (
        (strips, det.sampling_term),
        (middle, det.sampling_term),
        (back, det.sampling_term),
        (had, 0.5),
    ):
        total = cells.reshape(n, -1).sum(axis=1)
        rel = a / np.sqrt(np.maximum(total, 1e-3)) * rng.standard_normal(n)
        cells *= np.clip(1.0 + rel, 0.0, None).reshape((n,) + (1,) * (cells.ndim - 1))
    ps = ps * np.clip(1.0 + 0.3 / np.sqrt(np.maximum(ps, 1e-3)) * rng.standard_normal(n), 0, None)
    const = 1.0 + det.constant_term * rng.standard_normal(n)
    strips *= const[:, None]
    middle *= const[:, None, None]
    back *= const[:, None, None]

    noise_scale = 1.0 + det.pileup_noise_per_sqrt_mu * np.sqrt(mu / 35.0)
    ps = ps + det.noise_ps * noise_scale * rng.standard_normal(n)
    strips += det.noise_strips * noise_scale[:, None] * _normal(rng, strips.shape)
    middle += det.noise_middle * noise_scale[:, None, None] * _normal(rng, middle.shape)
    back += det.noise_back * noise_scale[:, None, None] * _normal(rng, back.shape)
    had += det.noise_had * noise_scale[:, None, None] * _normal(rng, had.shape)
    return CellDeposits(ps, strips, middle, back, had, upstream_loss)


def _normal(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Unit-normal cell noise, drawn in float32 (the stored precision) for speed."""
    return rng.standard_normal(shape, dtype=np.float32)
