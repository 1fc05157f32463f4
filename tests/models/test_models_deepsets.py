from __future__ import annotations

import pytest
import torch

from datrig.errors import DatrigError
from datrig.models.deepsets import QuantDeepSets, averaging_matrix
from datrig.quant.config import QuantConfig


def _model(n_cells: int = 32) -> QuantDeepSets:
    torch.manual_seed(0)
    return QuantDeepSets(4, n_cells, (16, 16), QuantConfig()).eval()


def test_pool_weight_is_exactly_one_over_n_after_quantization():
    model = _model()
    quant_weight = model.pool.quant_weight().value.detach()
    torch.testing.assert_close(quant_weight, averaging_matrix(16, 32), rtol=0, atol=0)
    assert not model.pool.weight.requires_grad


def test_permutation_invariant_bit_exact():
    model = _model()
    x = torch.randn(50, 4, 32)
    perm = torch.randperm(32)
    with torch.no_grad():
        a, b = model(x), model(x[:, :, perm])
    differ = int((a != b).sum())
    assert differ == 0, f"{differ} of {a.numel()} outputs change under a cell permutation"


def test_latent_is_the_mean_of_node_features():
    model = _model(8)
    x = torch.randn(5, 4, 8)
    with torch.no_grad():
        out, latent = model.forward_with_latent(x)
        torch.testing.assert_close(out, model(x).reshape(-1))
    assert latent.shape == (5, 16)


def test_non_power_of_two_cells_rejected():
    with pytest.raises(DatrigError, match="power-of-two"):
        QuantDeepSets(4, 24, (8,), QuantConfig())
