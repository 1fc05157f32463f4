"""The closed-form designed decorrelation: the background passes at one rate in every cell,
the signal at the working point, with signed weights; tested on a synthetic task whose
score depends on the protected variable."""

from __future__ import annotations

import numpy as np
import pytest

from datrig.da.threshold_map import fit_coarsening, fit_threshold_map, population_edges
from datrig.errors import DatrigError


def _sample(n: int, seed: int):
    rng = np.random.default_rng(seed)
    label = rng.integers(0, 2, n)
    cond = rng.exponential(1.0, n)
    prot = rng.normal(0, 1, n) + 0.5 * cond
    score = rng.normal(0, 1, n) + 1.5 * label + 0.8 * prot * (1 - label)  # sculpted background
    w = rng.choice([1.0, 1.0, 1.0, -0.25], n)
    return score, cond, prot, label, w


def _pass_rate(sel, passed, w):
    return float(np.sum(w[sel] * passed[sel]) / np.sum(w[sel]))


def test_background_passes_at_one_rate_in_every_cell_on_independent_events():
    score, cond, prot, label, w = _sample(200_000, 1)
    bkg = label == 0
    ce = population_edges(cond[bkg], 3, w[bkg])
    pe = population_edges(prot[bkg], 4, w[bkg], extra=(0.0,))
    tmap = fit_threshold_map(score, cond, prot, label, condition_edges=ce, protected_edges=pe,
                             efficiency=0.8, weights=w)  # fmt: skip
    s2, c2, p2, l2, w2 = _sample(400_000, 2)  # independent events
    out = tmap.apply(s2, c2, p2) >= 0
    assert _pass_rate(l2 == 1, out, w2) == pytest.approx(0.8, abs=0.01)
    rows, cols = tmap.cells(c2, p2)
    rates = [
        _pass_rate((l2 == 0) & (rows == r) & (cols == c), out, w2)
        for r in range(3) for c in range(len(pe) + 1)
    ]  # fmt: skip
    assert max(rates) - min(rates) < 0.06, rates  # within-cell slopes remain; without the map:
    raw_cut = np.quantile(score[label == 1], 0.2)
    raw_rates = [_pass_rate((l2 == 0) & (cols == c), s2 >= raw_cut, w2) for c in range(5)]
    assert max(raw_rates) - min(raw_rates) > 0.2


def test_a_cell_without_enough_background_is_named():
    score, cond, prot, label, _ = _sample(2_000, 3)
    with pytest.raises(DatrigError, match=r"cell .* holds"):
        fit_threshold_map(score, cond, prot, label, condition_edges=np.array([0.5]),
                          protected_edges=np.array([-0.5, 0, 0.5, 5.0]))  # fmt: skip


def test_a_small_sample_gets_the_first_shape_whose_cells_are_full():
    """~300 background events: 6 x 6 cells would hold ~8 each, 3 x 3 ~33 (>= 20)."""
    score, cond, prot, label, w = _sample(600, 4)
    shapes = [(6, 6), (3, 3), (2, 2)]
    tmap = fit_coarsening(score, cond, prot, label, shapes=shapes, weights=w)
    assert tmap.thresholds.shape == (3, 3)
    with pytest.raises(DatrigError, match=r"no threshold map fits the events: .* holds"):
        fit_coarsening(score[:60], cond[:60], prot[:60], label[:60], shapes=shapes)
