"""The encoder/head split every datrig model offers, for penalties on the latent (``frt``)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


def plain_tensor(x) -> torch.Tensor:
    """The float values of a Brevitas QuantTensor (or ``x`` itself if already a tensor)."""
    return x.value if hasattr(x, "value") else x


@dataclass
class ModelTerms:
    """What one forward pass gives the trainer, per event.

    ``output``: the deployed output (logit or energy correction); ``task``: what the task loss
    trains (the output itself, or the score branch of a compensated ID); ``compensation``: the
    compensation branch (None for plain models); ``latent``: the task head's input;
    ``score_latent``: the part of it that the score branch computes.
    """

    output: torch.Tensor
    task: torch.Tensor
    compensation: torch.Tensor | None
    latent: torch.Tensor
    score_latent: torch.Tensor


class EncoderHeadSequential(nn.Sequential):
    """An ``nn.Sequential`` whose last ``n_head_modules`` modules form the task head.

    Keeping the model one flat Sequential is what makes it export cleanly to QONNX; the split
    is only a view used during training.
    """

    n_head_modules: int = 2

    @property
    def latent_width(self) -> int:
        """Features of the latent representation (the task head's input)."""
        return int(list(self)[-self.n_head_modules].in_features)

    def encode(self, x: torch.Tensor):
        """Latent representation: the output of the module just before the head."""
        for module in list(self)[: -self.n_head_modules]:
            x = module(x)
        return x

    def head(self, z) -> torch.Tensor:
        for module in list(self)[-self.n_head_modules :]:
            z = module(z)
        return z

    def forward_with_latent(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(output (N,), latent as a plain tensor)."""
        z = self.encode(x)
        return self.head(z).reshape(-1), plain_tensor(z)

    def after_optimizer_step(self) -> None:
        """Hook for structural constraints on the weights (none for a plain network)."""

    def forward_terms(self, x: torch.Tensor) -> ModelTerms:
        """The output is also the task's; there is no compensation branch."""
        out, latent = self.forward_with_latent(x)
        return ModelTerms(out, out, None, latent, latent)
