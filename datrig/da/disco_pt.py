"""pT-conditional DisCo: dCor^2(score, isolation) within bins of the conditioning variable.

The ABCD / sideband estimate of the fake background is done per pT bin, so the score must be
independent of isolation *at fixed pT*. Global DisCo does not ask for that: both the score and
the isolation of fakes depend on pT, and the network can learn a pT dependence that cancels
the isolation dependence over the whole sample while the two stay correlated in every pT bin.
This penalty averages dCor^2 over ``n_bins`` equal-population pT bins fitted on the training
fakes, weighted by the bins' populations in the batch:

    P = sum_b N_b dCor^2_b(s, iso) / sum_b N_b,   N_b = sum of the event weights in bin b,

over the bins with at least ``MIN_EVENTS`` events; dCor^2_b uses the first ``max_events`` events
of the bin (O(n^2) memory per bin, as :class:`~datrig.da.disco.DiscoPenalty`).
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from datrig.da.base import Penalty, PenaltyInputs, PenaltySetup
from datrig.da.conditional import bin_of, quantile_edges, required
from datrig.da.functional import conditional_disco_terms
from datrig.da.schedule import WarmupSchedule

MIN_EVENTS = 8  # fewer: dCor^2 of the bin is dominated by its O(1/n) bias


class ConditionalDiscoPenalty(Penalty):
    name = "disco_pt"
    plot_color = "tab:purple"
    needs_condition = True
    # photon_id, quantized, on an independent 1M-candidate sample: lam 10 -> R80 12.9 with the
    # ABCD R 1.6-1.8 per pT tercile (none: 3.1-3.9); lam >= 30 collapses the classifier
    # (AUC 0.5) unless warmed up (warmup 5 + ramp 5: R80 11.7, R 1.4-2.0). `flat` gets R to 1.
    # photon_id_gnn: provisional (not measured)
    default_lam: ClassVar[dict[str, float]] = {"photon_id": 10.0, "photon_id_gnn": 2.0}
    generic_lam = 3.0

    def __init__(
        self,
        n_bins: int = 4,
        max_events: int = 1024,
        warmup_epochs: int = 0,
        ramp_epochs: int = 0,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        self.n_bins, self.max_events = n_bins, max_events
        self.schedule = WarmupSchedule(warmup_epochs, ramp_epochs)
        self.register_buffer("edges", torch.zeros(n_bins - 1))

    def setup(self, ctx: PenaltySetup) -> None:
        self.edges = torch.from_numpy(quantile_edges(required(self, ctx.condition), self.n_bins))

    def on_epoch_start(self, epoch: int) -> None:
        self.schedule.set_epoch(epoch)

    def bin_terms(self, batch: PenaltyInputs) -> tuple[torch.Tensor, torch.Tensor]:
        """(dCor^2_b, N_b) of every pT bin with at least ``MIN_EVENTS`` events."""
        bins = bin_of(required(self, batch.condition), self.edges)
        terms = conditional_disco_terms(
            batch.outputs, batch.protected, batch.weights, bins, self.n_bins, self.max_events,
            MIN_EVENTS,
        )  # fmt: skip
        if terms is None:
            return batch.outputs.new_zeros(0), batch.outputs.new_zeros(0)
        return terms

    def forward(self, batch: PenaltyInputs) -> torch.Tensor:
        values, populations = self.bin_terms(batch)
        if len(values) == 0:
            return batch.outputs.new_zeros(())
        return self.schedule.apply((values * populations).sum() / populations.sum())
