"""The threshold table a compensated ID carries: its lookup, its identity before a fit, and
its checkpoint (any fitted size loads into a fresh model; a crafted one is one line)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from datrig.errors import DatrigError
from datrig.models import threshold_table as tt
from datrig.models.compensated import Branches, CompensatedMLP, build_id_mlp
from datrig.quant.config import QuantConfig

BLIND = Branches(score_inputs=(0, 1, 3), compensation_inputs=(3, 2), score_hidden=(6,),
                 compensation_hidden=())  # fmt: skip
EDGES_C, EDGES_P = np.array([-0.5, 0.75]), np.array([0.25])
TABLE = np.array([[0.5, -0.25], [1.0, 0.0], [-1.5, 2.0]])


def _model() -> CompensatedMLP:
    torch.manual_seed(0)
    return CompensatedMLP(4, BLIND, QuantConfig(), threshold_table=True)


def test_an_unfitted_table_is_the_identity() -> None:
    model = _model().eval()
    x = torch.randn(200, 4)
    with torch.no_grad():
        terms = model.forward_terms(x)
        network = model(x).reshape(-1)
    assert not tt.is_fitted(model)
    assert torch.equal(terms.output, terms.task) and torch.equal(terms.output, network)


def test_output_is_score_minus_the_threshold_of_the_quantized_inputs_cell() -> None:
    model = _model().eval()
    tt.set_table(model, EDGES_C, EDGES_P, TABLE)
    x = torch.randn(500, 4) * 2
    x[:4, 3] = torch.tensor([-0.5, 0.75, 0.74, -0.51])  # on an edge, and just below
    with torch.no_grad():
        terms = model.forward_terms(x)
        xq = model.input_quant(x).value.double().numpy()
    rows = np.searchsorted(EDGES_C, xq[:, 3], side="right")  # edges <= x count
    cols = np.searchsorted(EDGES_P, xq[:, 2], side="right")
    expected = terms.task.double().numpy() - TABLE[rows, cols]
    assert np.array_equal(terms.output.double().numpy(), expected)
    assert list(rows[:2]) == [1, 2]


def test_a_fitted_table_of_any_size_loads_into_a_fresh_model() -> None:
    model = _model()
    tt.set_table(model, EDGES_C, EDGES_P, TABLE)
    config = {"n_inputs": 4, "hidden": [6], "quant": QuantConfig().to_dict(),
              "compensation": {"hidden": [], "inputs": [3, 2], "score_inputs": [0, 1, 3],
                               "table": True}}  # fmt: skip
    fresh = build_id_mlp(config)
    fresh.load_state_dict(model.state_dict())
    for got, want in zip(tt.table_arrays(fresh), (EDGES_C, EDGES_P, TABLE), strict=True):
        assert np.array_equal(got, want)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("table_thresholds", torch.zeros(2, 2, dtype=torch.float64), "need a table of"),
        ("table_condition_edges", torch.tensor([0.75, -0.5], dtype=torch.float64), "ascending"),
        ("table_thresholds", torch.full((3, 2), float("nan"), dtype=torch.float64), "finite"),
        ("table_condition_edges", torch.arange(100, dtype=torch.float64), "bins per variable"),
    ],
)
def test_a_crafted_table_is_refused_on_load(name: str, value: torch.Tensor, message: str) -> None:
    model = _model()
    tt.set_table(model, EDGES_C, EDGES_P, TABLE)
    state = model.state_dict()
    state[name] = value
    with pytest.raises(DatrigError, match=message):
        _model().load_state_dict(state)


def test_a_table_and_compensation_units_are_exclusive() -> None:
    both = Branches((0, 1), (1, 2), (4,), (2,))
    with pytest.raises(DatrigError, match="not both"):
        CompensatedMLP(3, both, QuantConfig(), threshold_table=True)
