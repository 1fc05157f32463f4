"""The boosting libraries a tree ensemble is grown with, and their trees put on the grids.

Each learner returns a :class:`FittedEnsemble`: float trees in one layout (children after
their parent, ``x <= threshold`` goes left) and the library's own float score, so that one
function (:func:`quantize_ensemble`) makes the integer IR of any of them:

* ``histgb``: scikit-learn's histogram gradient boosting (classifier or regressor);
* ``uniform``: hep_ml's uniform gradient boosting with a bin-flatness loss in the protected
  variable among the background (the standard BDT decorrelation, Rogozhnikov et al. 2015).

Both are grown on the quantized features, so a float threshold between two grid points is the
integer threshold ``floor(t / lsb)`` exactly; leaves are rounded half to even.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from datrig.ir.fixed import FixedType, Overflow, Rounding
from datrig.ir.trees import EnsembleIR, TreeIR
from datrig.models.trees import TreeSettings

UNIFORM_MAX_EVENTS = 100_000  # hep_ml's flatness loss is pure numpy: ~3 min per 100k x 120
UNIFORM_STRENGTH = 300.0  # fl_coefficient of the flatness term (the flat_bdt peer's)


@dataclass(frozen=True)
class FloatTree:
    feature: np.ndarray  # -1 at leaves
    threshold: np.ndarray
    left: np.ndarray  # -1 at leaves
    right: np.ndarray
    value: np.ndarray  # the leaf's contribution to the score (learning rate included)


@dataclass(frozen=True)
class FittedEnsemble:
    baseline: float
    trees: list[FloatTree]
    raw: Callable[[np.ndarray], np.ndarray]  # the library's float score of model columns


def score_type(bound: int, fractional: int) -> FixedType:
    """Signed type with LSB 2^-fractional and room for +-bound mantissas (no overflow)."""
    width = max(2, int(bound).bit_length() + 1)
    return FixedType(width, width - fractional, True, Rounding.RND_CONV, Overflow.WRAP)


def quantize_ensemble(
    fitted: FittedEnsemble,
    name: str,
    features: list[str],
    t_in: FixedType,
    score_fractional: int,
    columns: list[int] | None = None,
) -> EnsembleIR:
    """The integer ensemble: thresholds floored onto the input grid (exact for inputs on it),
    leaves and baseline rounded half to even onto 2^-score_fractional, the score type sized so
    that nothing overflows. ``columns``: the input index of each model column."""
    columns = list(range(len(features))) if columns is None else columns
    lsb_s = 2.0**-score_fractional
    trees = []
    for t in fitted.trees:
        inner = t.feature >= 0
        thresholds = np.where(inner, np.floor(t.threshold / t_in.lsb), 0)
        thresholds = np.clip(thresholds, t_in.min_mantissa, t_in.max_mantissa)
        trees.append(
            TreeIR(
                tuple(int(columns[f]) if f >= 0 else -1 for f in t.feature),
                tuple(int(v) for v in thresholds),
                tuple(int(v) for v in np.where(inner, t.left, -1)),
                tuple(int(v) for v in np.where(inner, t.right, -1)),
                tuple(int(v) for v in np.where(inner, 0, np.rint(t.value / lsb_s))),
            )
        )
    init = int(np.rint(fitted.baseline / lsb_s))
    probe = EnsembleIR(name, tuple(features), t_in, t_in, t_in, init, tuple(trees))
    t_score = score_type(probe.score_bound(), score_fractional)
    return EnsembleIR(name, tuple(features), t_in, t_score, t_score, init, tuple(trees))


def fit_histgb(
    x: np.ndarray, target: np.ndarray, w: np.ndarray, s: TreeSettings, seed: int, regression: bool
) -> FittedEnsemble:
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from threadpoolctl import threadpool_limits

    kind = HistGradientBoostingRegressor if regression else HistGradientBoostingClassifier
    model = kind(
        max_iter=s.n_trees, max_depth=s.max_depth, max_leaf_nodes=None,
        learning_rate=s.learning_rate, min_samples_leaf=s.min_samples_leaf, max_bins=255,
        early_stopping=False, random_state=seed,
    )  # fmt: skip
    with threadpool_limits(limits=1, user_api="openmp"):  # deterministic, 2 shared cores
        model.fit(x, target, sample_weight=np.clip(w, 0.0, None))
    trees = []
    for (predictor,) in model._predictors:
        nodes = predictor.nodes
        order = [0]
        for node in order:  # breadth first: every child after its parent
            if not nodes["is_leaf"][node]:
                order += [int(nodes["left"][node]), int(nodes["right"][node])]
        remap = {old: new for new, old in enumerate(order)}
        leaf = nodes["is_leaf"][order].astype(bool)
        trees.append(
            FloatTree(
                np.where(leaf, -1, nodes["feature_idx"][order]).astype(np.int64),
                nodes["num_threshold"][order].astype(np.float64),
                np.array([remap.get(int(nodes["left"][o]), -1) for o in order]),
                np.array([remap.get(int(nodes["right"][o]), -1) for o in order]),
                nodes["value"][order].astype(np.float64),
            )
        )

    def raw(xs: np.ndarray) -> np.ndarray:
        with threadpool_limits(limits=1, user_api="openmp"):
            return np.asarray(model._raw_predict(xs)[:, 0], dtype=np.float64)

    baseline = float(np.asarray(model._baseline_prediction).reshape(-1)[0])
    return FittedEnsemble(baseline, trees, raw)


def fit_uniform(
    x: np.ndarray,
    label: np.ndarray,
    w: np.ndarray,
    protected: np.ndarray,
    s: TreeSettings,
    seed: int,
) -> FittedEnsemble:
    """hep_ml's uniform boosting: flat background efficiency across the protected variable
    (10 bins), on at most ``UNIFORM_MAX_EVENTS`` events of positive weight (negative weights
    are left out of the fit, as the histogram boosting sets them to 0)."""
    import pandas as pd
    from hep_ml.gradientboosting import UGradientBoostingClassifier
    from hep_ml.losses import BinFlatnessLossFunction

    keep = np.flatnonzero(w > 0)[:UNIFORM_MAX_EVENTS]  # zero weights make hep_ml's bins NaN
    names = [f"x{i}" for i in range(x.shape[1])]
    frame = pd.DataFrame(x[keep], columns=names)
    frame["protected"] = protected[keep]
    loss = BinFlatnessLossFunction(
        ["protected"], uniform_label=0, n_bins=10, fl_coefficient=UNIFORM_STRENGTH
    )
    model = UGradientBoostingClassifier(
        loss=loss, n_estimators=s.n_trees, max_depth=s.max_depth,
        learning_rate=s.learning_rate, min_samples_leaf=s.min_samples_leaf,
        train_features=names, random_state=seed,
    )  # fmt: skip
    model.fit(frame, np.asarray(label[keep]), sample_weight=np.asarray(w[keep], np.float64))
    trees = []
    for tree, leaf_values in model.estimators:
        t = tree.tree_  # sklearn numbers nodes depth first: children after their parent
        leaf = t.children_left < 0
        trees.append(
            FloatTree(
                np.where(leaf, -1, t.feature).astype(np.int64),
                t.threshold.astype(np.float64),
                t.children_left.astype(np.int64),
                t.children_right.astype(np.int64),
                model.learning_rate * np.asarray(leaf_values, dtype=np.float64),
            )
        )

    def raw(xs: np.ndarray) -> np.ndarray:
        return np.asarray(model.decision_function(pd.DataFrame(xs, columns=names)), np.float64)

    return FittedEnsemble(float(model.initial_step), trees, raw)
