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
    """Leaves on 2^-6 cost at most half an LSB per tree against the library's float score."""
    from datrig.ir.fixed import FixedType, Overflow, Rounding
    from datrig.ir.trees import quantize
    from datrig.models.trees import TreeSettings
    from datrig.train.tree_learners import fit_histgb, quantize_ensemble
    from tests.ensemble_models import synthetic_task

    x, label, w = synthetic_task(20_000, 1)
    t_in = FixedType(8, 1, True, Rounding.RND_CONV, Overflow.SAT)
    xq = quantize(x, t_in)
    fitted = fit_histgb(xq * t_in.lsb, label, w, TreeSettings(10, 3, min_samples_leaf=20), 1,
                        regression=False)  # fmt: skip
    ir = quantize_ensemble(fitted, "t", [f"f{i}" for i in range(x.shape[1])], t_in, 6)
    raw = fitted.raw(xq[:3000] * t_in.lsb)
    emu = emulate(ir, xq[:3000])[:, 0]
    assert np.abs(emu - raw).max() <= (len(ir.trees) + 1) * ir.score_type.lsb / 2


def test_inputs_off_the_grid_are_refused():
    ir, xq, *_ = fitted_ensemble(n_trees=2)
    with pytest.raises(SchemaError, match="mantissas"):
        emulate_mantissas(ir, xq.astype(np.float64))
    with pytest.raises(SchemaError, match="outside"):
        emulate_mantissas(ir, xq + (1 << 12))
