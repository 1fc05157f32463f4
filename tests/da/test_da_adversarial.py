from __future__ import annotations

import numpy as np
import torch

from datrig.da.adversarial import AdversarialPenalty
from datrig.da.base import PenaltyInputs, PenaltySetup


def _batch(out: torch.Tensor, protected: torch.Tensor) -> PenaltyInputs:
    n = len(out)
    return PenaltyInputs(out, protected, torch.ones(n), torch.zeros(n, 2), torch.zeros(n, 2),
                         torch.zeros(n))  # fmt: skip


def test_adversary_learns_dependence_and_gradient_reaches_model():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    protected = torch.from_numpy(rng.exponential(size=512)).float()
    pen = AdversarialPenalty(n_bins=5, warmup_epochs=0, adv_steps=5, lr=1e-2)
    pen.setup(PenaltySetup(protected.numpy(), n_latent=2, n_inputs=2))
    assert len(pen.edges) == 4
    out = (protected.log() + 0.1 * torch.randn(512)).requires_grad_(True)
    pen.on_epoch_start(0)
    for _ in range(60):
        pen.helper_step(_batch(out, protected))
    value = pen(_batch(out, protected))
    assert float(value) > 0.3  # the adversary extracts information about the protected variable
    value.backward()
    assert out.grad.abs().sum() > 0
    # independent output: little information
    noise = torch.randn(512)
    for _ in range(60):
        pen.helper_step(_batch(noise, protected))
    assert float(pen(_batch(noise, protected))) < 0.15


def test_warmup_silences_penalty_and_domain_is_binary():
    pen = AdversarialPenalty(warmup_epochs=2)
    pen.setup(PenaltySetup(np.array([0.0, 1.0, 1.0, 0.0]), n_latent=2, n_inputs=2))
    assert pen.edges.tolist() == [0.5]
    pen.on_epoch_start(1)
    assert float(pen(_batch(torch.randn(8), torch.tensor([0.0, 1.0] * 4)))) == 0.0
    pen.on_epoch_start(2)
    assert pen.active


def test_checkpoint_state_roundtrip():
    torch.manual_seed(0)
    pen = AdversarialPenalty()
    pen.setup(PenaltySetup(np.linspace(0, 1, 100), 2, 2))
    pen.helper_step(_batch(torch.randn(100), torch.rand(100)))
    state = pen.checkpoint_state()
    other = AdversarialPenalty()
    other.setup(PenaltySetup(np.linspace(0, 1, 100), 2, 2))
    other.load_checkpoint_state(state)
    for a, b in zip(pen.parameters(), other.parameters(), strict=True):
        torch.testing.assert_close(a, b)
