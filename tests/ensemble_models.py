"""Small tree ensembles the toy did not shape: scikit-learn boosting on a synthetic task with
signed weights, another feature count and a correlated 'protected' column, for the IR,
emulator, map and conifer tests."""

from __future__ import annotations

import numpy as np

from datrig.ir.fixed import FixedType, Overflow, Rounding
from datrig.ir.trees import EnsembleIR, quantize

N_FEATURES = 5  # two informative, one condition-like, one protected-like, one noise


def synthetic_task(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Inputs in roughly [-1.3, 1.3] (some saturate), labels, signed weights."""
    rng = np.random.default_rng(seed)
    label = rng.integers(0, 2, n)
    x = rng.normal(0.0, 0.45, size=(n, N_FEATURES))
    x[:, 0] += 0.35 * label
    x[:, 1] -= 0.25 * label
    x[:, 3] += 0.3 * x[:, 0] * (1 - label)  # background's 'protected' follows the score
    w = rng.choice([1.0, 1.0, 1.0, -0.3], size=n)
    return x, label, w


def fitted_ensemble(
    n_trees: int = 12, depth: int = 3, width: int = 8, seed: int = 1, regression: bool = False
) -> tuple[EnsembleIR, np.ndarray, np.ndarray, np.ndarray]:
    """(ensemble on ap_fixed<width,1>, input mantissas, labels, weights)."""
    from datrig.models.trees import TreeSettings
    from datrig.train.tree_learners import fit_histgb, quantize_ensemble

    x, label, w = synthetic_task(20_000, seed)
    t_in = FixedType(width, 1, True, Rounding.RND_CONV, Overflow.SAT)
    xq = quantize(x, t_in)
    target = x[:, 0] * 2 + label if regression else label
    settings = TreeSettings(n_trees=n_trees, max_depth=depth, min_samples_leaf=20)
    fitted = fit_histgb(xq * t_in.lsb, target, w, settings, seed, regression=regression)
    names = [f"f{i}" for i in range(N_FEATURES)]
    ir = quantize_ensemble(fitted, "synthetic", names, t_in, 6)
    return ir, xq, label, w
