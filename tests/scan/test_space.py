"""The scan's grid: what changes nothing is trained once."""

from __future__ import annotations

from datrig.scan.space import SearchSpace


def test_a_penalty_without_a_strength_is_one_grid_point_per_setting():
    """`none` and the ddt table (fitted after training, λ changes nothing) get one λ each;
    a penalty λ scales gets every λ."""
    space = SearchSpace(penalties=("none", "ddt", "disco"), lam=(1.0, 3.0, 10.0))
    lams = {}
    for point in space.grid():
        lams.setdefault(point["penalty"], []).append(point["lam"])
    assert lams == {"none": [0.0], "ddt": [1.0], "disco": [1.0, 3.0, 10.0]}
