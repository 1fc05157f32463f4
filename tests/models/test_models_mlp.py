from __future__ import annotations

import torch

from datrig.models.mlp import QuantMLP
from datrig.quant.config import QuantConfig


def test_forward_with_latent_matches_forward_and_overrides_apply():
    torch.manual_seed(0)
    model = QuantMLP(13, (32, 16), QuantConfig(overrides={"fc2": {"weight": 4}})).eval()
    x = torch.randn(20, 13)
    with torch.no_grad():
        out, latent = model.forward_with_latent(x)
        torch.testing.assert_close(out, model(x).reshape(-1), rtol=0, atol=0)
    assert latent.shape == (20, 16) and (latent >= 0).all()
    assert int(model.fc2.quant_weight().bit_width) == 4
    assert int(model.fc1.quant_weight().bit_width) == 8


def test_input_quantizer_grid_and_range():
    """10-bit input, range 8: scale 2**-6, round half to even (QONNX ROUND), saturating."""
    model = QuantMLP(2, (4,), QuantConfig()).eval()
    lsb = 2.0**-6
    x = torch.tensor([[1.5 * lsb, 100.0], [-100.0, 2.5 * lsb]])
    q = model.input_quant(x).value
    expected = torch.tensor([[2 * lsb, 8 - lsb], [-8.0, 2 * lsb]])
    torch.testing.assert_close(q, expected, rtol=0, atol=0)


def test_regression_output_starts_at_one():
    model = QuantMLP(3, (4,), QuantConfig(output_max=4.0), output_init=1.0).eval()
    assert float(model.fc_out.bias) == 1.0
