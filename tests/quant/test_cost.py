"""The EBOPs cost from a forward pass's own quantizer outputs equals a fresh computation."""

from __future__ import annotations

import pytest
import torch

from datrig.models.deepsets import QuantDeepSets
from datrig.models.mlp import QuantMLP
from datrig.quant.config import QuantConfig
from datrig.quant.cost import QuantRecorder, ebops

LEARNED = QuantConfig(learned_bits=True)


def _models():
    torch.manual_seed(3)
    yield QuantMLP(6, (8, 4), LEARNED), torch.randn(64, 6), 1
    yield QuantDeepSets(4, 8, (6,), LEARNED, head_widths=(3,)), torch.randn(64, 4, 8), 8


@pytest.mark.parametrize("index", [0, 1], ids=["mlp", "deepsets"])
def test_recorded_cost_and_its_gradient_equal_a_fresh_one(index):
    model, x, n_nodes = list(_models())[index]
    recorder = QuantRecorder(model)
    model.train()
    model(x)
    seen = recorder.take()
    assert seen, "the forward pass recorded no quantizer output"
    recorded = ebops(model, n_nodes, seen)
    fresh = ebops(model, n_nodes)
    assert recorded.item() == fresh.item()
    params = [p for p in model.parameters() if p.requires_grad]
    g_recorded = torch.autograd.grad(recorded, params, allow_unused=True)
    g_fresh = torch.autograd.grad(fresh, params, allow_unused=True)
    assert any(g is not None for g in g_fresh), "the cost does not depend on any bit width"
    for a, b in zip(g_recorded, g_fresh, strict=True):
        assert (a is None) == (b is None)
        if a is not None:
            assert torch.equal(a, b)
    recorder.close()


def test_take_forgets_and_inference_records_nothing():
    model, x, _ = next(_models())
    recorder = QuantRecorder(model)
    model(x)
    assert recorder.take()
    assert recorder.take() == {}  # a later cost never reads a stale pass
    with torch.no_grad():
        model(x)
    assert recorder.take() == {}
    recorder.close()
    model(x)
    assert recorder.take() == {}
