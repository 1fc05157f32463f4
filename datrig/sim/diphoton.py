"""Diphoton events: ttH-like H -> gamma gamma signal over a two-component background.

The background mixes continuum gamma-gamma + jets (falling jet multiplicity, few b-tags or
leptons) with tt+gamma-gamma-like events (ttH-like activity, no resonance); both share one
smoothly falling m_gg, and the activity (``datrig.sim.activity``) never sees m_gg. Photon
energies are measured with the same longitudinal shower response as the photon candidates
(upstream loss, leakage, sampling, constant and noise terms) and calibrated with the *sim*
response, so the m_gg resolution follows from the calorimeter and "data" (more material) is
slightly miscalibrated. Pair kinematics are scale-free (pT_gg and the photon momenta scale
with m_gg), so the raw pT's and pT_gg carry m_gg information that a classifier can exploit
(mass sculpting) while pT/m_gg does not.
"""

from __future__ import annotations

import numpy as np

from datrig.data.schema import DIPHOTON_FIELDS, DOMAINS, dtype_of
from datrig.errors import DatrigError
from datrig.sim.activity import event_activity
from datrig.sim.config import (
    DetectorConfig,
    DiphotonConfig,
    DomainKnobs,
    GeneratorConfig,
    ProcessConfig,
)
from datrig.sim.geometry import layer_depths
from datrig.sim.kinematics import photon_kinematics, sample_mu, two_body_decay
from datrig.sim.showers import gaussian_cell_fractions, longitudinal_fractions, upstream_material

DIPHOTON_DTYPE = dtype_of(DIPHOTON_FIELDS)
PROCESSES = ("signal", "continuum", "ttgg")  # index 0 is the signal (label 1)
X0_CONVERSION = 9.0 / 7.0
_START_QUANTILES = -X0_CONVERSION * np.log(1.0 - (np.arange(8) + 0.5) / 8)  # Exp quantiles
_CLUSTER_HALF_ETA = 0.0375  # 3 middle cells


def _containment(d_eta: np.ndarray, det: DetectorConfig, knobs: DomainKnobs) -> np.ndarray:
    """Fraction of a shower inside the 3-cell-wide cluster, for impact offsets d_eta (n,)."""
    edges = np.array([-_CLUSTER_HALF_ETA, _CLUSTER_HALF_ETA])
    w = det.width_core_middle * knobs.middle_width_scale
    core = gaussian_cell_fractions(edges, d_eta[:, None], w)[:, 0, 0]
    tail = gaussian_cell_fractions(edges, d_eta[:, None], w * det.width_tail_factor)[:, 0, 0]
    return (1.0 - det.tail_fraction) * core + det.tail_fraction * tail


def _visible(e: np.ndarray, start: np.ndarray, abs_eta: np.ndarray, det, knobs) -> np.ndarray:
    frac = longitudinal_fractions(
        e[:, None],
        start[:, None],
        upstream_material(abs_eta, det, knobs),
        layer_depths(abs_eta),
        det.critical_energy,
        np.ones((e.shape[0], 1)),
    )
    return frac[:, 0, 1:5].sum(axis=1) - det.had_leak_fraction * knobs.had_leak_scale


def measure_energy(
    rng: np.random.Generator,
    e_true: np.ndarray,
    eta: np.ndarray,
    mu: np.ndarray,
    det: DetectorConfig,
    knobs: DomainKnobs,
    calib_knobs: DomainKnobs,
) -> np.ndarray:
    """Calibrated measured photon energy [GeV]: toy-calorimeter response / sim calibration."""
    n = e_true.shape[0]
    abs_eta = np.abs(eta)
    start = rng.exponential(X0_CONVERSION, n)
    offset = rng.uniform(-0.5, 0.5, n) * 0.025
    vis = _visible(e_true, start, abs_eta, det, knobs) * _containment(offset, det, knobs)
    e_vis = e_true * vis
    e_raw = e_vis * (
        1.0 + det.sampling_term / np.sqrt(np.maximum(e_vis, 1e-3)) * rng.standard_normal(n)
    )
    e_raw *= 1.0 + det.constant_term * rng.standard_normal(n)
    noise_scale = 1.0 + det.pileup_noise_per_sqrt_mu * np.sqrt(mu / 35.0)
    e_raw += 0.2 * noise_scale * rng.standard_normal(n)
    # Calibration derived from sim: mean response at this (E, eta) over conversion depths.
    mean_offset = np.zeros(n)
    resp = np.mean(
        [_visible(e_raw, np.full(n, s), abs_eta, det, calib_knobs) for s in _START_QUANTILES],
        axis=0,
    ) * _containment(mean_offset + 0.006, det, calib_knobs)
    return e_raw / resp


def _fourvec(pt, eta, phi, m):
    px, py = pt * np.cos(phi), pt * np.sin(phi)
    pz = pt * np.sinh(eta)
    e = np.sqrt(px**2 + py**2 + pz**2 + m**2)
    return e, px, py, pz


def _accepted_eta(eta: np.ndarray) -> np.ndarray:
    a = np.abs(eta)
    return (a < 2.37) & ~((a > 1.37) & (a < 1.52))


def _process_params(procs: list[ProcessConfig], index: np.ndarray, name: str) -> np.ndarray:
    """Per-event value of ProcessConfig field ``name`` for process indices ``index`` (n,)."""
    return np.array([getattr(p, name) for p in procs])[index]


def _truth_photons(rng, index: np.ndarray, procs: list[ProcessConfig], dc: DiphotonConfig):
    """True photon four-momenta of n events of the processes ``index`` (0 = signal)."""
    n = index.shape[0]
    signal = index == 0
    lo, hi = dc.m_min - 5.0, dc.m_max + 5.0
    s = dc.bkg_slope
    u = rng.random(n)
    m_bkg = -np.log(np.exp(-s * lo) - u * (np.exp(-s * lo) - np.exp(-s * hi))) / s
    m = np.where(signal, dc.m_higgs + dc.width_higgs * rng.standard_normal(n), m_bkg)
    shape = _process_params(procs, index, "ptgg_shape")
    ptm = rng.gamma(shape, _process_params(procs, index, "ptgg_over_m") / shape)
    y = _process_params(procs, index, "rapidity_sd") * rng.standard_normal(n)
    power = _process_params(procs, index, "cos_theta_power")
    cos_t = rng.random(n) ** (1.0 / (1.0 + power)) * np.where(rng.random(n) < 0.5, -1.0, 1.0)
    phi_sys = rng.uniform(-np.pi, np.pi, n)
    return two_body_decay(rng, m, ptm * m, y, phi_sys, cos_t)


def _activity(rng, index: np.ndarray, procs: list[ProcessConfig], dc: DiphotonConfig):
    """Jets, b-tags, HT, leptons, MET of each event's process; independent of m_gg."""
    top = rng.random(index.shape[0]) < _process_params(procs, index, "top_pair_fraction")
    return event_activity(
        rng,
        top,
        _process_params(procs, index, "extra_jet_ratio"),
        _process_params(procs, index, "extra_jet_pt"),
        _process_params(procs, index, "extra_heavy_flavour"),
        dc.activity,
    )


def _candidate_rows(rng, index, cfg: GeneratorConfig, domain: str):
    """Simulate events of processes ``index``; returns (rows, accepted mask)."""
    dc, det, knobs = cfg.diphoton, cfg.detector, cfg.knobs(domain)
    procs = list(dc.processes().values())
    n = index.shape[0]
    g1, g2 = _truth_photons(rng, index, procs, dc)
    pt1, eta1, phi1, e1 = photon_kinematics(g1)
    pt2, eta2, phi2, e2 = photon_kinematics(g2)
    mu = sample_mu(rng, n, knobs)
    r1 = measure_energy(rng, e1, eta1, mu, det, knobs, cfg.sim) / e1
    r2 = measure_energy(rng, e2, eta2, mu, det, knobs, cfg.sim) / e2
    p1 = _fourvec(pt1 * r1, eta1, phi1, 0.0)
    p2 = _fourvec(pt2 * r2, eta2, phi2, 0.0)
    tot = [a + b for a, b in zip(p1, p2, strict=True)]
    m_gg = np.sqrt(np.maximum(tot[0] ** 2 - tot[1] ** 2 - tot[2] ** 2 - tot[3] ** 2, 0.0))
    pt_gg = np.hypot(tot[1], tot[2])
    lead = pt1 * r1 >= pt2 * r2
    ptl = np.where(lead, pt1 * r1, pt2 * r2)
    pts = np.where(lead, pt2 * r2, pt1 * r1)
    ok = (
        _accepted_eta(eta1)
        & _accepted_eta(eta2)
        & (m_gg >= dc.m_min)
        & (m_gg <= dc.m_max)
        & (ptl > dc.lead_cut * m_gg)
        & (pts > dc.sublead_cut * m_gg)
    )
    rows = np.empty(n, dtype=DIPHOTON_DTYPE)
    rows["m_gg"] = m_gg
    rows["pt1"], rows["pt2"] = ptl, pts
    rows["eta1"], rows["eta2"] = np.where(lead, eta1, eta2), np.where(lead, eta2, eta1)
    rows["phi1"], rows["phi2"] = np.where(lead, phi1, phi2), np.where(lead, phi2, phi1)
    rows["pt_gg"] = pt_gg
    safe_m = np.maximum(m_gg, 1e-6)
    rows["pt1_over_mgg"] = ptl / safe_m
    rows["pt2_over_mgg"] = pts / safe_m
    rows["pt_gg_over_mgg"] = pt_gg / safe_m
    for name, values in _activity(rng, index, procs, dc).items():
        rows[name] = values
    rows["label"] = index == 0
    rows["domain"] = DOMAINS[domain]
    return rows, ok


def diphoton_chunk(
    rng: np.random.Generator, n: int, cfg: GeneratorConfig, domain: str
) -> np.ndarray:
    """Simulate ``n`` accepted diphoton events of ``domain`` as DIPHOTON_DTYPE rows.

    The number of accepted events per process is multinomial with the configured fractions
    and the rows are shuffled, so rows are i.i.d. draws from the process mixture.
    """
    return diphoton_chunk_with_process(rng, n, cfg, domain)[0]


def diphoton_chunk_with_process(
    rng: np.random.Generator, n: int, cfg: GeneratorConfig, domain: str
) -> tuple[np.ndarray, np.ndarray]:
    """As ``diphoton_chunk``, also returning each row's process index (PROCESSES order).

    The process is truth the file schema does not store; tests use it to check the mixture.
    """
    fractions = cfg.diphoton.process_fractions()
    counts = rng.multinomial(n, [fractions[p] for p in PROCESSES])
    parts: list[np.ndarray] = []
    procs: list[np.ndarray] = []
    for index, need in enumerate(counts):
        have = tried = empty_trials = 0
        while have < need:
            if have == 0 and tried > 100 * need + 20_000:
                raise DatrigError(
                    f"diphoton process {PROCESSES[index]!r}: no event of {tried} passes the "
                    "acceptance (m_gg window, pT/m_gg cuts); check the diphoton config"
                )
            # grow the trial while nothing passes, so a low acceptance costs few iterations
            trial = min((2 * (need - have) + 64) << empty_trials, 1 << 18)
            rows, ok = _candidate_rows(rng, np.full(trial, index), cfg, domain)
            kept = rows[ok][: need - have]
            parts.append(kept)
            procs.append(np.full(kept.shape[0], index, dtype=np.int8))
            have += kept.shape[0]
            tried += trial
            empty_trials = empty_trials + 1 if kept.shape[0] == 0 else 0
    order = rng.permutation(n)
    if not parts:
        return np.empty(0, dtype=DIPHOTON_DTYPE), np.empty(0, dtype=np.int8)
    return np.concatenate(parts)[order], np.concatenate(procs)[order]
