"""Both boosting libraries' trees, put on the grids, score as the libraries do (within the
leaves' rounding), on a synthetic task with signed weights; hep_ml's uniform boosting
flattens the background's pass rate across the protected variable."""

from __future__ import annotations

import numpy as np
import pytest

from datrig.emulate.trees import emulate
from datrig.ir.fixed import FixedType, Overflow, Rounding
from datrig.ir.trees import quantize
from datrig.models.trees import TreeSettings
from datrig.train.tree_learners import fit_histgb, fit_uniform, quantize_ensemble
from tests.ensemble_models import synthetic_task

T_IN = FixedType(8, 1, True, Rounding.RND_CONV, Overflow.SAT)


@pytest.mark.parametrize("learner", ["histgb", "uniform"])
def test_the_integer_ensemble_scores_as_the_library(learner):
    x, label, w = synthetic_task(6000, 2)
    xq = quantize(x, T_IN)
    settings = TreeSettings(n_trees=8, max_depth=3, min_samples_leaf=30)
    if learner == "uniform":
        fitted = fit_uniform(xq * T_IN.lsb, label, w, x[:, 3], settings, 2)
    else:
        fitted = fit_histgb(xq * T_IN.lsb, label, w, settings, 2, regression=False)
    ir = quantize_ensemble(fitted, "t", [f"f{i}" for i in range(x.shape[1])], T_IN, 8)
    emu = emulate(ir, xq)[:, 0]
    raw = fitted.raw(xq * T_IN.lsb)
    assert np.abs(emu - raw).max() <= (len(ir.trees) + 1) * ir.score_type.lsb / 2


def test_uniform_boosting_flattens_the_background_across_the_protected_variable():
    x, label, w = synthetic_task(30_000, 3)
    w = np.ones_like(w)
    xs = quantize(x[:, [0, 1, 2, 4]], T_IN) * T_IN.lsb  # the trees never read column 3
    s = TreeSettings(n_trees=20, max_depth=3, min_samples_leaf=50)
    flat = fit_uniform(xs, label, w, x[:, 3], s, 3).raw(xs)
    plain = fit_histgb(xs, label, w, s, 3, regression=False).raw(xs)

    def spread(score):
        bkg = label == 0
        cut = np.quantile(score[label == 1], 0.2)
        edges = np.quantile(x[bkg, 3], [0.25, 0.5, 0.75])
        cell = np.searchsorted(edges, x[bkg, 3])
        rates = [np.mean(score[bkg][cell == c] >= cut) for c in range(4)]
        return max(rates) - min(rates)

    assert spread(flat) < 0.6 * spread(plain)
