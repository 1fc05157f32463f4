from __future__ import annotations

import torch

from datrig.da.base import PenaltyInputs, PenaltySetup
from datrig.da.frt import FrtPenalty, mmd_sq


def test_mmd_separates_shifted_samples():
    torch.manual_seed(0)
    a = torch.randn(300, 4)
    assert float(mmd_sq(a, torch.randn(300, 4))) < 0.05
    assert float(mmd_sq(a, torch.randn(300, 4) + 1.0)) > 0.3


def test_penalty_gradient_reaches_latent_and_decoder():
    torch.manual_seed(0)
    latent = torch.randn(64, 8, requires_grad=True)
    domain = torch.tensor([0, 1] * 32)
    pen = FrtPenalty()
    pen.setup(PenaltySetup(torch.zeros(0).numpy(), n_latent=8, n_inputs=5))
    batch = PenaltyInputs(torch.zeros(0), torch.zeros(0), torch.zeros(0), latent + domain[:, None],
                          torch.randn(64, 5), domain)  # fmt: skip
    value = pen(batch)
    value.backward()
    assert float(value) > 0
    assert latent.grad.abs().sum() > 0
    assert all(p.grad is not None for p in pen.main_parameters())
