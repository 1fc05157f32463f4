"""The tree-ensemble IR: its file form is data, and a crafted file is refused with one line."""

from __future__ import annotations

import json

import pytest

from datrig.errors import SchemaError
from datrig.ir.trees import EnsembleIR
from tests.ensemble_models import fitted_ensemble


def test_json_round_trip_is_exact():
    ir, *_ = fitted_ensemble()
    doc = json.loads(json.dumps(ir.to_json()))
    assert EnsembleIR.from_json(doc, "x") == ir


@pytest.mark.parametrize(
    "crafted, message",
    [
        (lambda d: d["trees"][0]["left"].__setitem__(0, 10_000), "points outside"),
        (lambda d: d["trees"][0]["feature"].__setitem__(0, 99), "points outside"),
        (lambda d: d["trees"][0]["threshold"].__setitem__(0, 1 << 20), "threshold is outside"),
        (lambda d: d.__setitem__("init", 1 << 40), "beyond"),
        (lambda d: d["trees"][0].__setitem__("value", "import os"), "malformed"),
        (lambda d: d.__setitem__("split", "<"), "split convention"),
        (lambda d: d.__setitem__("schema", "pickle"), "not a datrig tree ensemble"),
    ],
)
def test_crafted_ensembles_are_refused(crafted, message):
    ir, *_ = fitted_ensemble(n_trees=3)
    doc = ir.to_json()
    crafted(doc)
    with pytest.raises(SchemaError, match=message):
        EnsembleIR.from_json(doc, "crafted.json")


def test_an_ensemble_whose_padded_tables_would_not_fit_is_refused():
    """One wide tree among many one-node trees is a small file but a huge padded table."""
    ir, *_ = fitted_ensemble(n_trees=1)
    doc = ir.to_json()
    leaf = {"feature": [-1], "threshold": [0], "left": [-1], "right": [-1], "value": [0]}
    wide = {"feature": [-1] * 2048, "threshold": [0] * 2048, "left": [-1] * 2048,
            "right": [-1] * 2048, "value": [0] * 2048}  # fmt: skip
    doc["trees"] = [wide] + [leaf] * 4095
    with pytest.raises(SchemaError, match="table entries"):
        EnsembleIR.from_json(doc, "crafted.json")
