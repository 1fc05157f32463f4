"""Pivot adversary (Louppe, Kagan & Cranmer 2017) with alternating updates.

A small float MLP (training-only, never exported) predicts the protected variable from the
penalised output: the domain (binary) or a continuous variable in ``n_bins`` quantile bins
(classification, which copes with any distribution shape). Each batch the adversary takes
``adv_steps`` Adam steps with its own learning rate on the detached output; the model's penalty
is ``H(prior) - CE(adversary)``, an estimate of the information the output carries about the
protected variable (>= 0 when the adversary is optimal), so minimising it fools the adversary.
For the first ``warmup_epochs`` the adversary trains but the model feels no penalty.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from datrig.da.base import Penalty, PenaltyInputs, PenaltySetup
from datrig.da.pivot import PivotAdversary, adversary_loss, pivot_classes, pivot_edges, pivot_terms


class AdversarialPenalty(Penalty):
    name = "adversarial"
    plot_color = "tab:red"
    # photon_id 5 -> dCor/2.3 at -21 % rejection@80 % (default data, quantized, sim test)
    default_lam: ClassVar[dict[str, float]] = {
        "photon_id": 5.0,
        "photon_energy": 0.5,
        "diphoton": 5.0,
        "photon_id_gnn": 1.0,
    }
    generic_lam = 1.0

    def __init__(
        self,
        n_bins: int = 10,
        hidden: int = 32,
        lr: float = 5e-3,
        adv_steps: int = 2,
        warmup_epochs: int = 1,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        self.n_bins, self.hidden, self.lr = n_bins, hidden, lr
        self.adv_steps, self.warmup_epochs = adv_steps, warmup_epochs
        self.register_buffer("edges", torch.zeros(0))
        self.adversary: nn.Module | None = None
        self.optimizer: torch.optim.Optimizer | None = None

    def setup(self, ctx: PenaltySetup) -> None:
        self.edges = pivot_edges(ctx.protected, self.n_bins)
        self.adversary = PivotAdversary(len(self.edges) + 1, self.hidden)
        self.optimizer = torch.optim.Adam(self.adversary.parameters(), lr=self.lr)

    def on_epoch_start(self, epoch: int) -> None:
        self.active = epoch >= self.warmup_epochs

    def helper_step(self, batch: PenaltyInputs) -> None:
        if batch.outputs.numel() < 2:
            return
        target, w = pivot_classes(batch.protected, self.edges), batch.weights.float()
        out = batch.outputs.detach()
        for _ in range(self.adv_steps):
            self.optimizer.zero_grad()
            adversary_loss(self.adversary, out, target, w).backward()
            self.optimizer.step()

    def forward(self, batch: PenaltyInputs) -> torch.Tensor:
        if not self.active or batch.outputs.numel() < 2:
            return batch.outputs.new_zeros(())
        target, w = pivot_classes(batch.protected, self.edges), batch.weights.float()
        return pivot_terms(self.adversary, batch.outputs, target, w, len(self.edges) + 1)

    def checkpoint_state(self) -> dict[str, Any]:
        return {"module": self.state_dict(), "optimizer": self.optimizer.state_dict()}

    def load_checkpoint_state(self, state: dict[str, Any]) -> None:
        self.load_state_dict(state["module"])
        self.optimizer.load_state_dict(state["optimizer"])
