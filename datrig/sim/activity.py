"""Event activity of the diphoton processes: jets, b-tags, HT, leptons and MET.

A top pair (ttH signal, tt+gamma-gamma background) decays to two b quarks and two W's; each
W gives either two quarks or a lepton and a neutrino, which fixes the jet, b-tag and lepton
multiplicities and the genuine MET. Every process adds QCD jets with a falling (Berends
scaling) multiplicity. Activity never looks at m_gg: the only mass information of an event
is in its photon momenta, so a mass-decorrelated classifier can still use the activity.
"""

from __future__ import annotations

import numpy as np

from datrig.sim.config import ActivityDetectorConfig

ACTIVITY_FIELDS = ("n_jets", "n_bjets", "ht", "n_leptons", "met")
_TOP_JET_SHAPE = 2.5  # Gamma shape of a top-decay jet's pT above threshold
_EXTRA_JET_SHAPE = 1.2  # Gamma shape of an additional jet's pT above threshold (steeper)


def _sum_gamma(rng: np.random.Generator, count: np.ndarray, shape: float, mean) -> np.ndarray:
    """Sum of ``count`` i.i.d. Gamma(shape, mean/shape) variables (0 for count 0) [GeV]."""
    return rng.gamma(np.maximum(shape * count, 1e-12), mean / shape) * (count > 0)


def event_activity(
    rng: np.random.Generator,
    top_pair: np.ndarray,
    extra_jet_ratio: np.ndarray,
    extra_jet_pt: np.ndarray,
    extra_heavy_flavour: np.ndarray,
    det: ActivityDetectorConfig,
) -> dict[str, np.ndarray]:
    """Activity of n events: per-event process parameters (n,) in, ACTIVITY_FIELDS out.

    ``top_pair`` (bool) marks events with a decaying top pair; the extra-jet parameters are
    those of the event's process (``datrig.sim.config.ProcessConfig``). HT and MET in GeV.
    """
    n = top_pair.shape[0]
    w_lep = rng.binomial(2, det.w_leptonic, n) * top_pair
    b_top = rng.binomial(2, det.top_jet_acceptance, n) * top_pair
    q_top = rng.binomial(2 * (2 - w_lep), det.top_jet_acceptance) * top_pair
    n_extra = rng.geometric(1.0 - extra_jet_ratio) - 1
    b_extra = rng.binomial(n_extra, extra_heavy_flavour)
    n_jets = b_top + q_top + n_extra
    n_true_b = b_top + b_extra
    n_bjets = rng.binomial(n_true_b, det.b_tag_efficiency) + rng.binomial(
        n_jets - n_true_b, det.mistag_rate
    )
    n_leptons = rng.binomial(w_lep, det.lepton_efficiency) + rng.binomial(
        1, det.fake_lepton_rate, n
    )
    ht = (
        det.jet_pt_min * n_jets
        + _sum_gamma(rng, b_top + q_top, _TOP_JET_SHAPE, det.top_jet_pt)
        + _sum_gamma(rng, n_extra, _EXTRA_JET_SHAPE, extra_jet_pt)
    )
    met_x, met_y = _neutrinos(rng, w_lep, det.neutrino_pt)
    sigma = det.met_soft + det.met_per_sqrt_ht * np.sqrt(ht)
    met_x = met_x + sigma * rng.standard_normal(n)
    met_y = met_y + sigma * rng.standard_normal(n)
    return {
        "n_jets": n_jets,
        "n_bjets": n_bjets,
        "ht": ht,
        "n_leptons": n_leptons,
        "met": np.hypot(met_x, met_y),
    }


def _neutrinos(rng: np.random.Generator, n_nu: np.ndarray, mean_pt: float):
    """Summed transverse momentum (x, y) [GeV] of 0-2 neutrinos per event from W decays."""
    n = n_nu.shape[0]
    px = np.zeros(n)
    py = np.zeros(n)
    for k in (1, 2):
        has = n_nu >= k
        pt = rng.gamma(2.0, mean_pt / 2.0, n) * has
        phi = rng.uniform(-np.pi, np.pi, n)
        px += pt * np.cos(phi)
        py += pt * np.sin(phi)
    return px, py
