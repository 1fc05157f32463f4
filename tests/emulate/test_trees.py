"""The tree emulator against a plain per-event walk of the trees, and against scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest

from datrig.emulate.trees import emulate, emulate_mantissas
from datrig.errors import SchemaError
from tests.ensemble_models import fitted_ensemble


def _walk(ir, row) -> int:
    total = ir.init
    for t in ir.trees:
        node = 0
        while t.feature[node] >= 0:
            node = t.left[node] if row[t.feature[node]] <= t.threshold[node] else t.right[node]
        total += t.value[node]
    return total


@pytest.mark.parametrize("regression", [False, True])
def test_emulator_equals_a_walk_of_the_trees(regression):
    ir, xq, *_ = fitted_ensemble(n_trees=9, depth=4, regression=regression)
    rng = np.random.default_rng(3)
    t = ir.input_type
    extremes = rng.choice([t.min_mantissa, t.max_mantissa, 0, -1], size=(500, ir.n_features))
    x = np.concatenate([xq[:1500], extremes])
    want = np.array([_walk(ir, row) for row in x])
    got = emulate_mantissas(ir, x)
    assert np.count_nonzero(got != want) == 0, f"{np.count_nonzero(got != want)} of {len(x)}"


def test_emulator_tracks_the_float_ensemble():
    """Leaves on 2^-6 cost at most half an LSB per tree against scikit-learn's raw score."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    ir, xq, label, w = fitted_ensemble(n_trees=10)
    model = HistGradientBoostingClassifier(max_iter=10, max_depth=3, max_leaf_nodes=None,
                                           learning_rate=0.3, early_stopping=False,
                                           random_state=1)  # fmt: skip
    model.fit(xq * ir.input_type.lsb, label, sample_weight=np.clip(w, 0, None))
    raw = model.decision_function(xq[:3000] * ir.input_type.lsb)
    emu = emulate(ir, xq[:3000])[:, 0]
    assert np.abs(emu - raw).max() <= (len(ir.trees) + 1) * ir.score_type.lsb / 2


def test_inputs_off_the_grid_are_refused():
    ir, xq, *_ = fitted_ensemble(n_trees=2)
    with pytest.raises(SchemaError, match="mantissas"):
        emulate_mantissas(ir, xq.astype(np.float64))
    with pytest.raises(SchemaError, match="outside"):
        emulate_mantissas(ir, xq + (1 << 12))
