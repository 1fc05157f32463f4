"""Feature-representation transfer: a domain-invariant latent learned as an autoencoder.

The deployed network is unchanged (encoder = the quantized layers up to the last hidden ReLU,
task head = the final quantized linear layer), so export sees a plain quantized MLP / Deep
Sets. During training a float decoder (training-only, never exported) reconstructs the inputs
of *all* events (sim and unlabeled data) from the latent, which keeps the latent a general
description of the shower usable by other task heads, and a Gaussian-kernel MMD between the sim
and data latents makes it domain-invariant. Penalty = MMD^2 + ``recon_weight`` * MSE.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from datrig.da.base import Penalty, PenaltyInputs, PenaltySetup
from datrig.da.functional import mmd_sq


class FrtPenalty(Penalty):
    name = "frt"
    plot_color = "tab:green"
    uses_domain_events = True
    generic_lam = 1.0

    def __init__(self, recon_weight: float = 0.1, max_mmd_events: int = 256, **options: Any):
        super().__init__(**options)
        self.recon_weight = recon_weight
        self.max_mmd_events = max_mmd_events
        self.decoder: nn.Module | None = None

    def setup(self, ctx: PenaltySetup) -> None:
        self.decoder = nn.Sequential(
            nn.Linear(ctx.n_latent, 32), nn.ReLU(), nn.Linear(32, ctx.n_inputs)
        )

    def main_parameters(self) -> list[nn.Parameter]:
        return list(self.decoder.parameters())

    def forward(self, batch: PenaltyInputs) -> torch.Tensor:
        latent, domain = batch.latent, batch.domain
        recon = self.decoder(latent)
        target = batch.inputs.reshape(len(latent), -1)
        loss = self.recon_weight * (recon - target).pow(2).mean()
        sim, data = latent[domain == 0], latent[domain == 1]
        if len(sim) > 1 and len(data) > 1:
            k = self.max_mmd_events  # MMD is O(k^2); the first k of a shuffled batch suffice
            loss = loss + mmd_sq(sim[:k], data[:k])
        return loss
