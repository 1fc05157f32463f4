"""One chunk of photon candidates: prompt photons (label 1) and jet fakes (label 0).

Returns the rows of the ``candidates`` table and the ``cells`` array of every simulated cell
(docs/artefacts.md section 1). Everything is drawn from the one Generator passed in, so a
chunk is a pure function of its seed.
"""

from __future__ import annotations

import numpy as np

from datrig.data.schema import DOMAINS, PHOTON_FIELDS, dtype_of
from datrig.sim.config import GeneratorConfig
from datrig.sim.geometry import MIDDLE, N_CELLS, cell_layout
from datrig.sim.isolation import calo_isolation, track_isolation
from datrig.sim.jets import sample_fakes
from datrig.sim.kinematics import sample_eta, sample_mu, sample_pt
from datrig.sim.shapes import layer_energies, shower_shapes
from datrig.sim.showers import CellDeposits, Components, deposit, upstream_material

PHOTON_DTYPE = dtype_of(PHOTON_FIELDS)
X0_CONVERSION = 9.0 / 7.0  # mean photon conversion depth [X0]


def _photon_components(rng, n, e_true, pt, x_up, det) -> tuple[np.ndarray, ...]:
    """Prompt photons: one shower, or an e+e- pair split in phi if it converted in the tracker."""
    start = rng.exponential(X0_CONVERSION, n)
    converted = start < det.tracker_fraction * x_up
    u = rng.uniform(0.15, 0.85, n)
    split = det.conversion_phi_spread / pt * rng.uniform(0.3, 1.0, n) * converted
    energy = np.stack([np.where(converted, u, 1.0), np.where(converted, 1.0 - u, 0.0)], 1)
    energy *= e_true[:, None]
    d_phi = np.stack([(1.0 - u) * split, -u * split], axis=1)
    return energy, np.zeros((n, 2)), d_phi, np.stack([start, start], 1), converted


def _cells_array(dep: CellDeposits) -> np.ndarray:
    """Every simulated cell as (n, N_CELLS, 4): energy [GeV], d_eta and d_phi of the cell centre
    from the window centre (the hottest middle cell), layer index; order of
    :func:`~datrig.sim.geometry.cell_layout`. Positions are the same for every candidate, so
    they cost almost nothing compressed."""
    n = dep.ps.shape[0]
    per_layer = (dep.ps[:, None, None], dep.strips[:, :, None], dep.middle, dep.back, dep.had)
    d_eta, d_phi, layer = cell_layout()
    out = np.empty((n, N_CELLS, 4), dtype=np.float32)
    out[..., 0] = np.concatenate([cells.reshape(n, -1) for cells in per_layer], axis=1)
    out[..., 1] = d_eta[None, :]
    out[..., 2] = d_phi[None, :]
    out[..., 3] = layer[None, :]
    return out


def photon_chunk(
    rng: np.random.Generator, n: int, cfg: GeneratorConfig, domain: str
) -> tuple[np.ndarray, np.ndarray]:
    """Simulate ``n`` candidates of ``domain``: (rows with PHOTON_DTYPE, cells float32)."""
    pc = cfg.photons
    label = rng.random(n) < pc.prompt_fraction
    pt_true = sample_pt(rng, n, pc)
    eta = sample_eta(rng, n, pc)
    phi = rng.uniform(-np.pi, np.pi, n)
    mu = sample_mu(rng, n, cfg.knobs(domain))
    return candidates_at(rng, label, pt_true, eta, phi, mu, cfg, domain)


def candidates_at(
    rng: np.random.Generator,
    label: np.ndarray,
    pt_true: np.ndarray,
    eta: np.ndarray,
    phi: np.ndarray,
    mu: np.ndarray,
    cfg: GeneratorConfig,
    domain: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Candidates of given truth (``label`` True: prompt photon, else a jet fake; true pT
    [GeV], eta, phi, pile-up mu) measured in ``domain``: (PHOTON_DTYPE rows, cells float32).
    Other samples (the resonance photons) reuse the photon sample's detector response."""
    pc, det, knobs = cfg.photons, cfg.detector, cfg.knobs(domain)
    n = label.shape[0]
    abs_eta = np.abs(eta)
    e_true = pt_true * np.cosh(eta)
    x_up = upstream_material(abs_eta, det, knobs)

    energy, d_eta, d_phi, start, converted = _photon_components(rng, n, e_true, pt_true, x_up, det)
    fakes = sample_fakes(rng, e_true, eta, pc, knobs.fragmentation_alpha_scale)
    fake = ~label
    f2 = fake[:, None]
    energy = np.where(f2, e_true[:, None] * np.stack([fakes.u, 1.0 - fakes.u], 1), energy)
    d_eta = np.where(f2, fakes.d_eta, d_eta)
    d_phi = np.where(f2, fakes.d_phi, d_phi)
    start2 = rng.exponential(X0_CONVERSION, n)
    start = np.where(f2, np.stack([start[:, 0], start2], 1), start)
    conv_fake = (start < det.tracker_fraction * x_up[:, None]).any(axis=1)
    converted = np.where(fake, conv_fake, converted)
    had_in = np.where(fake, fakes.had_in_cluster, 0.0)
    had_out = np.where(fake, fakes.had_outside, 0.0)

    # Impact point inside the hottest middle cell, which centres all windows.
    off_eta = rng.uniform(-0.5, 0.5, n) * MIDDLE.d_eta
    off_phi = rng.uniform(-0.5, 0.5, n) * MIDDLE.d_phi
    comps = Components(
        energy=energy,
        d_eta=d_eta + off_eta[:, None],
        d_phi=d_phi + off_phi[:, None],
        start=start,
        had_energy=had_in,
        had_d_eta=off_eta + 0.03 * rng.standard_normal(n),
        had_d_phi=off_phi + 0.03 * rng.standard_normal(n),
        had_width=pc.hadron_width,
    )
    dep = deposit(rng, abs_eta, mu, comps, det, knobs, pc.hadron_em_fraction)
    energies = layer_energies(dep)
    shapes = shower_shapes(dep, energies)
    pt = energies["e_raw"] / np.cosh(eta)

    rows = np.empty(n, dtype=PHOTON_DTYPE)
    for name, values in shapes.items():
        rows[name] = values
    for name, values in energies.items():
        rows[name] = values
    rows["pt"] = pt
    rows["eta"] = eta
    rows["phi"] = phi
    rows["e_true"] = e_true
    rows["iso_calo"] = calo_isolation(rng, pt, eta, mu, had_out, pc)
    rows["iso_track"] = track_isolation(rng, eta, mu, had_in, had_out, pc)
    rows["mu"] = mu
    rows["converted"] = converted
    rows["label"] = label
    rows["domain"] = DOMAINS[domain]
    return rows, _cells_array(dep)
