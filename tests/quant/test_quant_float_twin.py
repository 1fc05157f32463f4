from __future__ import annotations

import torch

from datrig.models.mlp import QuantMLP
from datrig.quant.config import QuantConfig
from datrig.quant.float_twin import float_mode


def test_float_twin_equals_plain_float_network():
    """Quantization off => the same weights computed as an ordinary float MLP."""
    torch.manual_seed(0)
    model = QuantMLP(5, (8,), QuantConfig()).eval()
    x = torch.randn(100, 5)
    with torch.no_grad():
        quant = model(x)
        with float_mode(model):
            twin = model(x)
        ref = torch.nn.functional.linear(
            torch.relu(torch.nn.functional.linear(x, model.fc1.weight, model.fc1.bias)),
            model.fc_out.weight,
            model.fc_out.bias,
        )
    torch.testing.assert_close(twin, ref)
    assert not torch.equal(quant, twin)  # quantization really changes the numbers
    with torch.no_grad():
        torch.testing.assert_close(model(x), quant)  # and is restored afterwards
