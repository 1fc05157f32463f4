"""The baseline: no penalty."""

from __future__ import annotations

import torch

from datrig.da.base import Penalty, PenaltyInputs


class NoPenalty(Penalty):
    name = "none"
    plot_color = "tab:gray"
    generic_lam = 0.0
    penalises = False

    def forward(self, batch: PenaltyInputs) -> torch.Tensor:
        return batch.outputs.new_zeros(())
