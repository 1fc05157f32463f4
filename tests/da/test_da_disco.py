from __future__ import annotations

import dcor
import numpy as np
import pytest
import torch

from datrig.da.base import PenaltyInputs
from datrig.da.disco import DiscoPenalty, distance_correlation, distance_correlation_sq


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_unweighted_agrees_with_dcor(seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=300)
    y = 0.5 * x**2 + rng.normal(size=300)
    ours = float(distance_correlation(torch.from_numpy(x), torch.from_numpy(y)))
    assert abs(ours - dcor.distance_correlation(x, y)) < 1e-6


@pytest.mark.parametrize("seed", [0, 1])
def test_integer_weights_equal_repeated_samples(seed):
    rng = np.random.default_rng(seed)
    x = rng.exponential(size=120)
    y = x + rng.normal(size=120)
    w = rng.integers(1, 5, size=120)
    ours = float(
        distance_correlation(torch.from_numpy(x), torch.from_numpy(y), torch.from_numpy(w))
    )
    ref = dcor.distance_correlation(np.repeat(x, w), np.repeat(y, w))
    assert abs(ours - ref) < 1e-6


def test_independent_is_small_and_dependent_is_large():
    rng = np.random.default_rng(3)
    x = torch.from_numpy(rng.normal(size=2000))
    assert float(distance_correlation_sq(x, torch.from_numpy(rng.normal(size=2000)))) < 0.01
    assert float(distance_correlation_sq(x, x**2)) > 0.2


def test_gradient_flows_to_outputs():
    torch.manual_seed(0)
    out = torch.randn(64, requires_grad=True)
    protected = out.detach() * 2 + torch.randn(64) * 0.1
    batch = PenaltyInputs(out, protected, torch.ones(64), torch.zeros(64, 2), torch.zeros(64, 3),
                          torch.zeros(64))  # fmt: skip
    value = DiscoPenalty()(batch)
    value.backward()
    assert value > 0.5
    assert torch.isfinite(out.grad).all() and out.grad.abs().sum() > 0
